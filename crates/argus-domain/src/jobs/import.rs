//! `import.bulk`'s input: NDJSON lines, each parsed and checked the same
//! way by the API (before anything is queued) and by the worker.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::parse_one_of;
use crate::entities::valid_relationship_kind;
use crate::{EntityKind, IncidentStatus, Severity};

/// Longest external id.
pub const MAX_EXTERNAL_ID: usize = 200;

/// One line of an import, checked, with its kinds and states typed.
#[derive(Debug, Clone, PartialEq)]
pub enum ImportLine {
    Entity {
        external_id: String,
        kind: EntityKind,
        name: String,
        attributes: Map<String, Value>,
    },
    /// `source` and `target` are the entities' external ids.
    Relationship {
        external_id: String,
        source: String,
        target: String,
        kind: String,
    },
    Incident {
        external_id: String,
        title: String,
        description: String,
        severity: Severity,
        status: IncidentStatus,
        location: Option<String>,
        occurred_at: Option<DateTime<Utc>>,
    },
}

/// A line as written, before its checks.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WrittenLine {
    Entity {
        external_id: String,
        kind: String,
        name: String,
        #[serde(default)]
        attributes: Map<String, Value>,
    },
    Relationship {
        external_id: String,
        source: String,
        target: String,
        kind: String,
    },
    Incident {
        external_id: String,
        title: String,
        #[serde(default)]
        description: String,
        severity: String,
        #[serde(default = "open")]
        status: String,
        location: Option<String>,
        occurred_at: Option<DateTime<Utc>>,
    },
}

fn open() -> String {
    IncidentStatus::default().as_str().into()
}

fn text(what: &str, value: &str, max: usize) -> Result<(), String> {
    let n = value.chars().count();
    if n == 0 || n > max { Err(format!("{what} must be 1 to {max} characters")) } else { Ok(()) }
}

impl ImportLine {
    /// Parses and checks one line.
    pub fn parse(line: &str) -> Result<Self, String> {
        let written: WrittenLine = serde_json::from_str(line).map_err(|e| format!("not an import line: {e}"))?;
        Self::checked(written)
    }

    pub fn external_id(&self) -> &str {
        match self {
            Self::Entity { external_id, .. }
            | Self::Relationship { external_id, .. }
            | Self::Incident { external_id, .. } => external_id,
        }
    }

    fn checked(written: WrittenLine) -> Result<Self, String> {
        match written {
            WrittenLine::Entity { external_id, kind, name, attributes } => {
                text("external_id", &external_id, MAX_EXTERNAL_ID)?;
                let kind = parse_one_of("kind", &kind)?;
                text("name", &name, 500)?;
                Ok(Self::Entity { external_id, kind, name, attributes })
            }
            WrittenLine::Relationship { external_id, source, target, kind } => {
                text("external_id", &external_id, MAX_EXTERNAL_ID)?;
                text("source", &source, MAX_EXTERNAL_ID)?;
                text("target", &target, MAX_EXTERNAL_ID)?;
                if !valid_relationship_kind(&kind) {
                    return Err("kind must be lowercase snake case, at most 64 characters".into());
                }
                Ok(Self::Relationship { external_id, source, target, kind })
            }
            WrittenLine::Incident { external_id, title, description, severity, status, location, occurred_at } => {
                text("external_id", &external_id, MAX_EXTERNAL_ID)?;
                text("title", &title, 500)?;
                let severity = parse_one_of("severity", &severity)?;
                let status = parse_one_of("status", &status)?;
                if let Some(l) = &location {
                    text("location", l, 500)?;
                }
                Ok(Self::Incident { external_id, title, description, severity, status, location, occurred_at })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse_and_are_checked() {
        let e = ImportLine::parse(r#"{"type":"entity","external_id":"p1","kind":"person","name":"Ada"}"#).unwrap();
        assert_eq!(e.external_id(), "p1");
        assert!(matches!(e, ImportLine::Entity { kind: EntityKind::Person, .. }));
        let i = ImportLine::parse(r#"{"type":"incident","external_id":"i","title":"x","severity":"low"}"#).unwrap();
        assert!(matches!(i, ImportLine::Incident { status: IncidentStatus::Open, severity: Severity::Low, .. }));
        assert_eq!(
            ImportLine::parse(r#"{"type":"incident","external_id":"i","title":"x","severity":"bad"}"#),
            Err("severity must be one of low, medium, high, critical".into())
        );
        assert!(ImportLine::parse(r#"{"type":"entity","external_id":"p1","kind":"robot","name":"Ada"}"#).is_err());
        assert!(
            ImportLine::parse(r#"{"type":"relationship","external_id":"r","source":"a","target":"b","kind":"Knows"}"#)
                .is_err()
        );
        assert!(ImportLine::parse(r#"{"type":"incident","external_id":"i","title":"x","severity":"bad"}"#).is_err());
        assert!(ImportLine::parse("not json").is_err());
        assert!(ImportLine::parse(r#"{"type":"entity","external_id":"","kind":"person","name":"A"}"#).is_err());
    }
}
