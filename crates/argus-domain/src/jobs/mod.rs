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
