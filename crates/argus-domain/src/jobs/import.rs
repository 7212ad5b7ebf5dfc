//! `import.bulk`'s input: NDJSON lines, each parsed and checked the same
//! way by the API (before anything is queued) and by the worker.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::one_of;
use crate::entities::valid_relationship_kind;
use crate::{EntityKind, IncidentStatus, Severity};

/// Longest external id.
pub const MAX_EXTERNAL_ID: usize = 200;

/// One line of an import.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ImportLine {
    Entity {
        external_id: String,
        kind: String,
        name: String,
        #[serde(default)]
        attributes: Map<String, Value>,
    },
    /// `source` and `target` are the entities' external ids.
    Relationship { external_id: String, source: String, target: String, kind: String },
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
        let parsed: Self = serde_json::from_str(line).map_err(|e| format!("not an import line: {e}"))?;
        parsed.validate()?;
        Ok(parsed)
    }

    pub fn external_id(&self) -> &str {
        match self {
            Self::Entity { external_id, .. }
            | Self::Relationship { external_id, .. }
            | Self::Incident { external_id, .. } => external_id,
        }
    }

    fn validate(&self) -> Result<(), String> {
        text("external_id", self.external_id(), MAX_EXTERNAL_ID)?;
        match self {
            Self::Entity { kind, name, .. } => {
                one_of("kind", kind, EntityKind::NAMES)?;
                text("name", name, 500)
            }
            Self::Relationship { source, target, kind, .. } => {
                text("source", source, MAX_EXTERNAL_ID)?;
                text("target", target, MAX_EXTERNAL_ID)?;
                if valid_relationship_kind(kind) {
                    Ok(())
                } else {
                    Err("kind must be lowercase snake case, at most 64 characters".into())
                }
            }
            Self::Incident { title, severity, status, location, .. } => {
                text("title", title, 500)?;
                one_of("severity", severity, Severity::NAMES)?;
                one_of("status", status, IncidentStatus::NAMES)?;
                match location {
                    Some(l) => text("location", l, 500),
                    None => Ok(()),
                }
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
