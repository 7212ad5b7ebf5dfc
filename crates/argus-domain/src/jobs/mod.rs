//! Async jobs (`/v1/jobs`): their kinds, each with its input, and their
//! states.
//!
//! A job's life: `queued` → `running` (claimed by a worker; a lost lease
//! puts it back to `queued`) → `succeeded`, `failed` or `cancelled`, for
//! good. A queued job can also be cancelled directly.

pub mod enrich;
pub mod export;
pub mod graph;
pub mod import;

use std::fmt::Display;
use std::ops::RangeInclusive;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::DomainError;
use crate::events::EventKind;
use crate::text_enum::{TextEnum, text_enum};

/// Checks that `value` is one of `allowed` (an enum's `NAMES`).
pub(crate) fn one_of(what: &str, value: &str, allowed: &[&str]) -> Result<(), String> {
    if allowed.contains(&value) { Ok(()) } else { Err(format!("{what} must be one of {}", allowed.join(", "))) }
}

/// `value` as a `T`; else the message of [`one_of`].
pub(crate) fn parse_one_of<T: TextEnum>(what: &str, value: &str) -> Result<T, String> {
    value.parse().map_err(|_| format!("{what} must be one of {}", T::NAMES.join(", ")))
}

/// A job input read from `value` (its shape), then put through `validate`
/// (the values serde cannot check).
pub(crate) fn parse_input<T: DeserializeOwned>(
    value: Value,
    validate: impl FnOnce(&T) -> Result<(), DomainError>,
) -> Result<T, DomainError> {
    let input: T = serde_json::from_value(value).map_err(|e| DomainError::Malformed(e.to_string()))?;
    validate(&input)?;
    Ok(input)
}

/// Checks a kinds filter of a job input: absent (every kind), or a
/// non-empty list without an empty kind.
pub(crate) fn check_kinds_filter(field: &str, kinds: Option<&[String]>) -> Result<(), DomainError> {
    let Some(kinds) = kinds else { return Ok(()) };
    if kinds.is_empty() {
        return Err(DomainError::invalid(field, "must not be empty (omit it to include every kind)"));
    }
    if kinds.iter().any(|k| k.trim().is_empty()) {
        return Err(DomainError::invalid(field, "must not contain an empty kind"));
    }
    Ok(())
}

/// Checks that a number of a job input, when given, is within `range`.
pub(crate) fn check_range<T: PartialOrd + Display>(
    field: &str,
    value: Option<T>,
    range: RangeInclusive<T>,
) -> Result<(), DomainError> {
    match value {
        Some(v) if !range.contains(&v) => {
            Err(DomainError::invalid(field, format!("must be between {} and {}, got {v}", range.start(), range.end())))
        }
        _ => Ok(()),
    }
}

/// Checks a list of a job input: not empty (`empty` says what to do
/// instead) and at most `max` `items`.
pub(crate) fn check_list_len<T>(
    field: &str,
    list: &[T],
    max: usize,
    items: &str,
    empty: &str,
) -> Result<(), DomainError> {
    if list.is_empty() {
        return Err(DomainError::invalid(field, empty));
    }
    if list.len() > max {
        return Err(DomainError::invalid(field, format!("lists {} {items}, at most {max} are allowed", list.len())));
    }
    Ok(())
}

text_enum! {
    /// What a job does; every kind `POST /v1/jobs` accepts.
    pub enum JobKind("kind") {
        /// NDJSON of entities, relationships and incidents, upserted by
        /// external id ([`import::ImportLine`]).
        ImportBulk = "import.bulk",
        /// The tenant's incidents, cases, entities and relationships as
        /// NDJSON ([`export::ExportInput`]).
        ExportBulk = "export.bulk",
        /// Normalisation, likely duplicates and link suggestions for given
        /// entities ([`enrich::EnrichInput`]).
        EnrichBulk = "intelligence.enrich.bulk",
        /// Algorithms over the tenant's entity graph
        /// ([`graph::GraphComputeInput`]).
        GraphCompute = "graph.compute",
    }
}

text_enum! {
    /// Every state a job can be in; the last three are terminal.
    pub enum JobStatus("status") {
        Queued = "queued",
        Running = "running",
        Succeeded = "succeeded",
        Failed = "failed",
        Cancelled = "cancelled",
    }
}

impl JobStatus {
    /// Whether a job in this state has finished, for good.
    pub fn is_terminal(self) -> bool {
        self.outcome().is_some()
    }

    /// The outcome a terminal state records (`None` while the job is live).
    pub fn outcome(self) -> Option<JobOutcome> {
        match self {
            Self::Queued | Self::Running => None,
            Self::Succeeded => Some(JobOutcome::Succeeded),
            Self::Failed => Some(JobOutcome::Failed),
            Self::Cancelled => Some(JobOutcome::Cancelled),
        }
    }
}

/// How a job ended: its terminal states, so that finishing a job with a
/// live state cannot be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobOutcome {
    Succeeded,
    Failed,
    Cancelled,
}

impl JobOutcome {
    /// The state the job ends in.
    pub fn status(self) -> JobStatus {
        match self {
            Self::Succeeded => JobStatus::Succeeded,
            Self::Failed => JobStatus::Failed,
            Self::Cancelled => JobStatus::Cancelled,
        }
    }

    /// The event the outcome announces (`job.succeeded`, ...).
    pub fn event(self) -> EventKind {
        match self {
            Self::Succeeded => EventKind::JobSucceeded,
            Self::Failed => EventKind::JobFailed,
            Self::Cancelled => EventKind::JobCancelled,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_states_are_exactly_the_outcomes() {
        for s in JobStatus::ALL {
            assert_eq!(s.is_terminal(), s.outcome().is_some());
            if let Some(o) = s.outcome() {
                assert_eq!(o.status(), *s);
                assert_eq!(o.event().as_str(), format!("job.{s}"));
            }
        }
        assert!(!JobStatus::Queued.is_terminal());
        assert!(!JobStatus::Running.is_terminal());
    }

    #[test]
    fn kinds_read_and_write_their_wire_names() {
        assert_eq!(JobKind::EnrichBulk.as_str(), "intelligence.enrich.bulk");
        assert_eq!("graph.compute".parse::<JobKind>(), Ok(JobKind::GraphCompute));
        let e = "mine.bitcoin".parse::<JobKind>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "kind must be one of import.bulk, export.bulk, intelligence.enrich.bulk, graph.compute, not `mine.bitcoin`"
        );
    }
}
