//! `export.bulk`'s input: which record types and filters on them, checked
//! the same way by the API (before anything is queued) and by the worker.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{one_of, parse_one_of};
use crate::entities::valid_relationship_kind;
use crate::{CaseStatus, EntityKind, IncidentStatus, Severity};

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

/// The record filters of an [`ExportInput`], checked and typed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportFilters {
    pub incident_status: Option<IncidentStatus>,
    pub incident_severity: Option<Severity>,
    pub case_status: Option<CaseStatus>,
    pub entity_kind: Option<EntityKind>,
}

impl ExportInput {
    /// Checks the input; its filters, typed, when it is sound.
    pub fn validate(&self) -> Result<ExportFilters, String> {
        if let Some(types) = &self.types {
            if types.is_empty() {
                return Err("input.types must name at least one type".into());
            }
            for t in types {
                one_of("input.types[]", t, EXPORT_TYPES)?;
            }
        }
        let filters = ExportFilters {
            incident_status: self
                .incident_status
                .as_deref()
                .map(|v| parse_one_of("input.incident_status", v))
                .transpose()?,
            incident_severity: self
                .incident_severity
                .as_deref()
                .map(|v| parse_one_of("input.incident_severity", v))
                .transpose()?,
            case_status: self.case_status.as_deref().map(|v| parse_one_of("input.case_status", v)).transpose()?,
            entity_kind: self.entity_kind.as_deref().map(|v| parse_one_of("input.entity_kind", v)).transpose()?,
        };
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
        Ok(filters)
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
    fn export_filters_are_checked() {
        assert!(ExportInput::default().validate().is_ok());
        let bad = ExportInput { types: Some(vec!["users".into()]), ..Default::default() };
        assert!(bad.validate().is_err());
        let typed = ExportInput { case_status: Some("in_progress".into()), ..Default::default() };
        assert_eq!(typed.validate().unwrap().case_status, Some(CaseStatus::InProgress));
        let bad = ExportInput { incident_status: Some("gone".into()), ..Default::default() };
        assert!(bad.validate().is_err());
    }
}
