//! The inputs of the job kinds the store serves (`import.bulk`,
//! `export.bulk`), parsed and checked the same way by the API (before
//! anything is queued) and by the worker.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::domain::{CASE_STATUSES, ENTITY_KINDS, INCIDENT_STATUSES, SEVERITIES};

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
    "open".into()
}

fn one_of(what: &str, value: &str, allowed: &[&str]) -> Result<(), String> {
    if allowed.contains(&value) { Ok(()) } else { Err(format!("{what} must be one of {}", allowed.join(", "))) }
}

fn text(what: &str, value: &str, max: usize) -> Result<(), String> {
    let n = value.chars().count();
    if n == 0 || n > max { Err(format!("{what} must be 1 to {max} characters")) } else { Ok(()) }
}

/// A relationship kind: lowercase snake case, at most 64 characters.
pub fn valid_relationship_kind(kind: &str) -> bool {
    kind.len() <= 64
        && kind.starts_with(|c: char| c.is_ascii_lowercase())
        && kind.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
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
                one_of("kind", kind, ENTITY_KINDS)?;
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
                one_of("severity", severity, SEVERITIES)?;
                one_of("status", status, INCIDENT_STATUSES)?;
                match location {
                    Some(l) => text("location", l, 500),
                    None => Ok(()),
                }
            }
        }
    }
}

/// What `export.bulk` can export.
pub const EXPORT_TYPES: &[&str] = &["incidents", "cases", "entities", "relationships"];

/// `export.bulk`: which record types (default all) and filters on them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportInput {
    pub types: Option<Vec<String>>,
    pub incident_status: Option<String>,
    pub incident_severity: Option<String>,
    /// Incidents created at or after this instant.
    pub created_after: Option<DateTime<Utc>>,
    /// Incidents created before this instant.
    pub created_before: Option<DateTime<Utc>>,
    pub case_status: Option<String>,
    pub entity_kind: Option<String>,
    pub relationship_kind: Option<String>,
}

impl ExportInput {
    pub fn validate(&self) -> Result<(), String> {
        if let Some(types) = &self.types {
            if types.is_empty() {
                return Err("input.types must name at least one type".into());
            }
            for t in types {
                one_of("input.types[]", t, EXPORT_TYPES)?;
            }
        }
        if let Some(s) = &self.incident_status {
            one_of("input.incident_status", s, INCIDENT_STATUSES)?;
        }
        if let Some(s) = &self.incident_severity {
            one_of("input.incident_severity", s, SEVERITIES)?;
        }
        if let Some(s) = &self.case_status {
            one_of("input.case_status", s, CASE_STATUSES)?;
        }
        if let Some(k) = &self.entity_kind {
            one_of("input.entity_kind", k, ENTITY_KINDS)?;
        }
        if let Some(k) = &self.relationship_kind
            && !valid_relationship_kind(k)
        {
            return Err("input.relationship_kind must be lowercase snake case".into());
        }
        if let (Some(a), Some(b)) = (self.created_after, self.created_before)
            && a >= b
        {
            return Err("input.created_after must be before input.created_before".into());
        }
        Ok(())
    }

    /// Whether records of `kind` (one of [`EXPORT_TYPES`]) are exported.
    pub fn includes(&self, kind: &str) -> bool {
        self.types.as_ref().is_none_or(|t| t.iter().any(|x| x == kind))
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

    #[test]
    fn export_filters_are_checked() {
        assert!(ExportInput::default().validate().is_ok());
        let bad = ExportInput { types: Some(vec!["users".into()]), ..Default::default() };
        assert!(bad.validate().is_err());
        let bad = ExportInput { incident_status: Some("gone".into()), ..Default::default() };
        assert!(bad.validate().is_err());
    }
}
