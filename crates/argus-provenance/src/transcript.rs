//! An evidence item's transcript as a document: the operations an entry
//! records, the entry's bytes (what its Merkle leaf hashes), every entry
//! with its leaf hash, the signed tree head after it and its inclusion
//! proof, and the consistency proof from an earlier tree head.

use argus_types::{EvidenceId, TenantId};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::hex;
use crate::merkle::{self, Hash};
use crate::named::named_enum;

named_enum! {
    /// What one transcript entry records. `CREATE` opens every transcript and
    /// is recorded only by creating the item.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
    #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
    pub enum EvidenceOperation {
        Create = "CREATE",
        View = "VIEW",
        Annotate = "ANNOTATE",
        TransferCustody = "TRANSFER_CUSTODY",
        Export = "EXPORT",
        Seal = "SEAL",
    }
    /// A name that is no evidence operation.
    pub struct UnknownOperation("unknown evidence operation `{}`");
}

impl EvidenceOperation {
    /// Every value, in declaration order.
    pub const ALL: &'static [Self] =
        &[Self::Create, Self::View, Self::Annotate, Self::TransferCustody, Self::Export, Self::Seal];
}

/// One entry of an item's transcript: what its Merkle leaf hashes, as
/// [`TranscriptEntry::to_bytes`] writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TranscriptEntry {
    pub evidence_id: EvidenceId,
    pub tenant_id: TenantId,
    /// 1 for the first entry (`CREATE`); the tree's size once it is in.
    pub sequence: i64,
    pub operation: EvidenceOperation,
    /// The subject of the token that performed it (a user's or an app's id).
    pub actor: String,
    /// The app the token was issued to.
    pub client_id: String,
    /// RFC 3339, microseconds, UTC: as stored, so the bytes hash the same
    /// when read back.
    pub recorded_at: String,
    /// The item's content SHA-256 at the time of the operation.
    pub content_sha256: String,
    pub details: Option<String>,
    pub custodian: Option<String>,
    /// The previous entry's leaf hash, hex; `None` for the first.
    pub previous_hash: Option<String>,
}

impl TranscriptEntry {
    /// The time as an entry writes it.
    pub fn time_text(at: DateTime<Utc>) -> String {
        at.to_rfc3339_opts(SecondsFormat::Micros, true)
    }

    /// The entry's bytes: its JSON, fields in declaration order, no
    /// whitespace. Deterministic, so anyone holding the entry can hash it.
    pub fn to_bytes(&self) -> Vec<u8> {
        // A struct of strings, integers and text enums always serializes.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// A signed tree head: the transcript tree's size and root once an entry
/// was in, signed with the tenant's key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TreeHead {
    pub tree_size: i64,
    /// Hex.
    pub root_hash: String,
    /// The time of the entry that made this size (RFC 3339, microseconds).
    pub timestamp: String,
    /// `hmac-sha256` or `ml-dsa-65`.
    pub algorithm: String,
    pub key_id: String,
    /// Hex, over [`TreeHead::signed_bytes`].
    pub signature: String,
}

/// What a tree head's signature covers: every field but the signature, and
/// the item it is of.
#[derive(Serialize)]
struct SignedFields<'a> {
    evidence_id: &'a str,
    tree_size: i64,
    root_hash: &'a str,
    timestamp: &'a str,
    algorithm: &'a str,
    key_id: &'a str,
}

impl TreeHead {
    /// The bytes a head's signature is over: JSON of the item's id and the
    /// head's fields but the signature, in this order.
    pub fn signed_bytes(
        evidence_id: &EvidenceId,
        tree_size: i64,
        root_hash: &str,
        timestamp: &str,
        algorithm: &str,
        key_id: &str,
    ) -> Vec<u8> {
        let fields =
            SignedFields { evidence_id: evidence_id.as_str(), tree_size, root_hash, timestamp, algorithm, key_id };
        // Strings and an integer always serialize.
        serde_json::to_vec(&fields).unwrap_or_default()
    }
}

/// One entry of a transcript document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProvenanceEntry {
    #[serde(flatten)]
    pub entry: TranscriptEntry,
    /// SHA-256(0x00 || the entry's bytes), hex.
    pub leaf_hash: String,
    /// The signed tree head once this entry was in.
    pub tree_head: TreeHead,
    /// The entry's inclusion proof (hex hashes, RFC 9162 §2.1.3) in the
    /// tree of the document's `tree_head`.
    #[serde(default)]
    pub inclusion_proof: Vec<String>,
}

/// An item's transcript: its entries in order and the latest tree head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Transcript {
    pub evidence_id: EvidenceId,
    pub entries: Vec<ProvenanceEntry>,
    pub tree_head: Option<TreeHead>,
}

impl Transcript {
    /// The document of `entries` (in order, each with its leaf and signed
    /// head), each entry's inclusion proof in the latest tree added.
    pub fn of(evidence_id: EvidenceId, entries: Vec<(TranscriptEntry, Hash, TreeHead)>) -> Self {
        let leaves: Vec<Hash> = entries.iter().map(|(_, leaf, _)| *leaf).collect();
        let proofs = merkle::inclusion_proofs(&leaves);
        let tree_head = entries.last().map(|(_, _, head)| head.clone());
        let entries = entries
            .into_iter()
            .zip(proofs)
            .map(|((entry, leaf, tree_head), proof)| ProvenanceEntry {
                entry,
                leaf_hash: hex(&leaf),
                tree_head,
                inclusion_proof: proof.iter().map(|h| hex(h)).collect(),
            })
            .collect();
        Self { evidence_id, entries, tree_head }
    }
}

/// The consistency proof (RFC 9162 §2.1.4) from an earlier tree size to the
/// document's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConsistencyProof {
    pub from_size: i64,
    /// Hex root of the tree at `from_size`.
    pub from_root: String,
    pub to_size: i64,
    pub proof: Vec<String>,
}

impl ConsistencyProof {
    /// From the first `from_size` of `leaves` to all of them; `None` unless
    /// `0 < from_size <= leaves.len()`.
    pub fn of(leaves: &[Hash], from_size: usize) -> Option<Self> {
        let proof = merkle::consistency_proof(leaves, from_size)?;
        Some(Self {
            from_size: i64::try_from(from_size).ok()?,
            from_root: hex(&merkle::root(&leaves[..from_size])),
            to_size: i64::try_from(leaves.len()).ok()?,
            proof: proof.iter().map(|h| hex(h)).collect(),
        })
    }
}

/// A tree head a verifier held earlier: the transcript must extend it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EarlierHead {
    pub tree_size: i64,
    /// Hex.
    pub root_hash: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_has_stable_bytes() {
        let entry = TranscriptEntry {
            evidence_id: EvidenceId::generate(),
            tenant_id: TenantId::generate(),
            sequence: 1,
            operation: EvidenceOperation::Create,
            actor: "usr_x".into(),
            client_id: "app_x".into(),
            recorded_at: "2026-12-06T03:00:00.000000Z".into(),
            content_sha256: "ab".repeat(32),
            details: None,
            custodian: None,
            previous_hash: None,
        };
        let bytes = entry.to_bytes();
        assert_eq!(bytes, entry.clone().to_bytes());
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.starts_with("{\"evidence_id\":\"evd_"), "{text}");
        assert!(text.contains("\"operation\":\"CREATE\""), "{text}");
        let back: TranscriptEntry = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(back, entry);
    }

    #[test]
    fn operations_read_back_from_their_names() {
        for op in EvidenceOperation::ALL {
            assert_eq!(op.as_str().parse::<EvidenceOperation>(), Ok(*op));
            assert_eq!(serde_json::to_value(op).unwrap(), op.as_str());
        }
        assert!("DESTROY".parse::<EvidenceOperation>().is_err());
    }
}
