//! Evidence: items attached to an incident or a case (the content stays
//! with the integrator; Argus keeps its name, type, size and SHA-256), the
//! rule that a sealed item admits nothing but `VIEW`. The operations a
//! custody transcript records and the entry its Merkle leaf hashes are
//! argus-provenance's (re-exported here), shared with offline verifiers.

pub use argus_provenance::transcript::{EvidenceOperation, TranscriptEntry};
use argus_types::{CaseId, IncidentId};

use crate::FieldErrors;

/// Longest name, media type, details and custodian, in characters.
pub const MAX_NAME: usize = 500;
pub const MAX_MEDIA_TYPE: usize = 255;
pub const MAX_DETAILS: usize = 2000;
pub const MAX_CUSTODIAN: usize = 200;

/// Why an operation may not be recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OperationRefused {
    #[error("CREATE is recorded only by creating the item")]
    Create,
    #[error("the item is sealed: only VIEW may be recorded")]
    Sealed,
}

/// The custody rule on operations (the operations themselves are
/// argus-provenance's, which verifiers share).
pub trait OperationRule {
    /// Whether this operation may be recorded on an item, sealed or not:
    /// after `SEAL`, nothing but `VIEW`; `CREATE` never after the first.
    fn check(self, sealed: bool) -> Result<(), OperationRefused>;
}

impl OperationRule for EvidenceOperation {
    fn check(self, sealed: bool) -> Result<(), OperationRefused> {
        match self {
            Self::Create => Err(OperationRefused::Create),
            Self::View => Ok(()),
            _ if sealed => Err(OperationRefused::Sealed),
            _ => Ok(()),
        }
    }
}

/// An item to create, checked by [`NewEvidence::check`].
#[derive(Debug, Clone)]
pub struct NewEvidence {
    pub incident_id: Option<IncidentId>,
    pub case_id: Option<CaseId>,
    pub name: String,
    pub media_type: String,
    pub size_bytes: i64,
    /// Lowercase hex SHA-256 of the content.
    pub sha256: String,
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `type/subtype`, RFC 6838 restricted names, no parameters.
fn is_media_type(s: &str) -> bool {
    let name = |part: &str| {
        !part.is_empty()
            && part.len() <= 127
            && part.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    s.len() <= MAX_MEDIA_TYPE && s.split_once('/').is_some_and(|(t, sub)| name(t) && name(sub))
}

fn bounded(errors: &mut FieldErrors, field: &str, value: &str, max: usize) {
    if value.trim().is_empty() || value.chars().count() > max {
        errors.push(field, format!("must be 1 to {max} characters"));
    }
}

impl NewEvidence {
    /// Every bad field, named: at least one of the incident and the case,
    /// a name, a `type/subtype` media type, a size that is not negative and
    /// a lowercase hex SHA-256.
    pub fn check(&self) -> Result<(), FieldErrors> {
        let mut errors = FieldErrors::default();
        if self.incident_id.is_none() && self.case_id.is_none() {
            errors.push("incidentId", "an item is attached to an incident or a case: give one");
        }
        bounded(&mut errors, "name", &self.name, MAX_NAME);
        if !is_media_type(&self.media_type) {
            errors.push("mediaType", "must be a media type such as `image/jpeg`");
        }
        if self.size_bytes < 0 {
            errors.push("sizeBytes", "must not be negative");
        }
        if !is_sha256_hex(&self.sha256) {
            errors.push("sha256", "must be 64 lowercase hexadecimal digits");
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }
}

/// An operation to record, checked by [`RecordOperation::check`].
#[derive(Debug, Clone)]
pub struct RecordOperation {
    pub operation: EvidenceOperation,
    pub details: Option<String>,
    /// Who holds the item after the operation; required by
    /// `TRANSFER_CUSTODY` (the new custodian).
    pub custodian: Option<String>,
}

impl RecordOperation {
    pub fn check(&self) -> Result<(), FieldErrors> {
        let mut errors = FieldErrors::default();
        if let Some(details) = &self.details {
            bounded(&mut errors, "details", details, MAX_DETAILS);
        }
        match &self.custodian {
            Some(custodian) => bounded(&mut errors, "custodian", custodian, MAX_CUSTODIAN),
            None if self.operation == EvidenceOperation::TransferCustody => {
                errors.push("custodian", "TRANSFER_CUSTODY names the new custodian");
            }
            None => {}
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_item() -> NewEvidence {
        NewEvidence {
            incident_id: Some(IncidentId::generate()),
            case_id: None,
            name: "bodycam-0042.mp4".into(),
            media_type: "video/mp4".into(),
            size_bytes: 5_000_000_000,
            sha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".into(),
        }
    }

    #[test]
    fn nothing_but_view_after_seal() {
        for op in EvidenceOperation::ALL {
            let after_seal = op.check(true);
            match op {
                EvidenceOperation::View => assert_eq!(after_seal, Ok(())),
                EvidenceOperation::Create => assert_eq!(after_seal, Err(OperationRefused::Create)),
                _ => assert_eq!(after_seal, Err(OperationRefused::Sealed), "{op}"),
            }
        }
        assert_eq!(EvidenceOperation::Seal.check(false), Ok(()));
        assert_eq!(EvidenceOperation::Create.check(false), Err(OperationRefused::Create));
    }

    #[test]
    fn a_new_item_names_every_bad_field() {
        assert!(new_item().check().is_ok());
        let bad = NewEvidence {
            incident_id: None,
            case_id: None,
            name: " ".into(),
            media_type: "video".into(),
            size_bytes: -1,
            sha256: "E3B0".into(),
        };
        let names: Vec<String> = bad.check().unwrap_err().0.into_iter().map(|e| e.name).collect();
        assert_eq!(names, ["incidentId", "name", "mediaType", "sizeBytes", "sha256"]);
    }

    #[test]
    fn a_transfer_names_its_custodian() {
        let transfer =
            RecordOperation { operation: EvidenceOperation::TransferCustody, details: None, custodian: None };
        assert_eq!(transfer.check().unwrap_err().0[0].name, "custodian");
        let view = RecordOperation { operation: EvidenceOperation::View, details: None, custodian: None };
        assert!(view.check().is_ok());
    }
}
