//! An evidence item's transcript as a document: every entry with its leaf
//! hash, the signed tree head after it and its inclusion proof; and the
//! verification of such a document, naming every entry that fails.

use argus_crypto::merkle::{self, Frontier, Hash};
use argus_crypto::provenance::TreeHeadKey;
use argus_types::EvidenceId;
use serde::{Deserialize, Serialize};

use crate::evidence::TranscriptEntry;
use crate::text_enum::text_enum;

/// A signed tree head: the transcript tree's size and root once an entry
/// was in, signed with the tenant's key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TreeHead {
    pub tree_size: i64,
    /// Hex.
    pub root_hash: String,
    /// The time of the entry that made this size (RFC 3339, microseconds).
    pub timestamp: String,
    /// `hmac-sha256`.
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
                leaf_hash: argus_crypto::hex(&leaf),
                tree_head,
                inclusion_proof: proof.iter().map(|h| argus_crypto::hex(h)).collect(),
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
            from_root: argus_crypto::hex(&merkle::root(&leaves[..from_size])),
            to_size: i64::try_from(leaves.len()).ok()?,
            proof: proof.iter().map(|h| argus_crypto::hex(h)).collect(),
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

text_enum! {
    /// What a verification found wrong.
    pub enum Tampering ("tampering") {
        /// The entry's content differs from what was recorded, or from its
        /// leaf hash.
        ChangedEntry = "changed_entry",
        /// A recorded entry is missing.
        DroppedEntry = "dropped_entry",
        /// An entry that was never recorded.
        InsertedEntry = "inserted_entry",
        /// A recorded entry out of its place.
        ReorderedEntry = "reordered_entry",
        /// A tree head's root is not the root of the entries up to it.
        WrongRoot = "wrong_root",
        /// A tree head's signature does not verify with its key.
        BadSignature = "bad_signature",
        /// A tree head names a key the tenant does not have.
        UnknownKey = "unknown_key",
        /// The transcript does not extend the earlier tree head.
        BrokenConsistency = "broken_consistency",
    }
}

/// One thing found wrong, and the entry (by sequence) it is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Failure {
    pub kind: Tampering,
    pub sequence: Option<i64>,
    pub detail: String,
}

/// A check and whether it passed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Check {
    pub name: &'static str,
    pub passed: bool,
}

/// What a verification answers: every check, every failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Verification {
    pub valid: bool,
    pub tree_size: i64,
    /// The root of the submitted entries, hex.
    pub root_hash: String,
    pub checks: Vec<Check>,
    pub failures: Vec<Failure>,
}

fn fail(failures: &mut Vec<Failure>, kind: Tampering, sequence: Option<i64>, detail: impl Into<String>) {
    failures.push(Failure { kind, sequence, detail: detail.into() });
}

/// Entries of `submitted` (sequence, recomputed leaf) against the `stored`
/// leaves: changed, inserted, reordered and dropped, each named.
fn against_stored(submitted: &[(i64, Hash)], stored: &[Hash], failures: &mut Vec<Failure>) {
    let mut seen = vec![false; stored.len()];
    for (position, (sequence, leaf)) in submitted.iter().enumerate() {
        let recorded =
            sequence.checked_sub(1).and_then(|i| usize::try_from(i).ok()).and_then(|i| stored.get(i).map(|h| (i, h)));
        match recorded {
            Some((i, recorded)) if recorded == leaf => {
                seen[i] = true;
                if i != position {
                    fail(failures, Tampering::ReorderedEntry, Some(*sequence), format!("at position {}", position + 1));
                }
            }
            Some((i, _)) => {
                seen[i] = true;
                fail(failures, Tampering::ChangedEntry, Some(*sequence), "differs from the recorded entry");
            }
            None => fail(failures, Tampering::InsertedEntry, Some(*sequence), "no such entry was recorded"),
        }
    }
    for (i, seen) in seen.iter().enumerate() {
        if !seen {
            let sequence = i64::try_from(i).map_or(i64::MAX, |i| i.saturating_add(1));
            fail(failures, Tampering::DroppedEntry, Some(sequence), "recorded, missing from the transcript");
        }
    }
}

/// A head's root and signature: `expected_size` entries with root `root`.
fn check_head(
    evidence_id: &EvidenceId,
    head: &TreeHead,
    expected_size: i64,
    root: &Hash,
    key: &impl Fn(&str) -> Option<TreeHeadKey>,
    failures: &mut Vec<Failure>,
) {
    if head.tree_size != expected_size || merkle::parse_hash(&head.root_hash).as_ref() != Some(root) {
        fail(
            failures,
            Tampering::WrongRoot,
            Some(expected_size),
            format!("the tree head of size {} is not the root of the entries up to it", head.tree_size),
        );
    }
    let message = TreeHead::signed_bytes(
        evidence_id,
        head.tree_size,
        &head.root_hash,
        &head.timestamp,
        &head.algorithm,
        &head.key_id,
    );
    let signature = bytes_of_hex(&head.signature);
    match key(&head.key_id) {
        None => fail(failures, Tampering::UnknownKey, Some(expected_size), format!("no key {}", head.key_id)),
        Some(k)
            if head.algorithm != argus_crypto::provenance::HMAC_SHA256
                || !signature.is_some_and(|s| k.verify(&message, &s)) =>
        {
            fail(failures, Tampering::BadSignature, Some(expected_size), "the signature does not verify")
        }
        Some(_) => {}
    }
}

/// Hex to bytes; `None` for anything but pairs of hex digits.
fn bytes_of_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

/// Verifies `transcript` of the item `evidence_id`: each entry's leaf hash
/// recomputed, against the `stored` leaves (what was recorded), each tree
/// head's root and signature (`key` opens a key by id), the inclusion
/// proofs, and that it extends `earlier`.
pub fn verify(
    evidence_id: &EvidenceId,
    transcript: &Transcript,
    stored: &[Hash],
    earlier: Option<&EarlierHead>,
    key: impl Fn(&str) -> Option<TreeHeadKey>,
) -> Verification {
    let mut failures = Vec::new();
    let mut checks = Vec::new();
    let mut check = |name: &'static str, failures: &Vec<Failure>, before: usize| {
        checks.push(Check { name, passed: failures.len() == before });
    };

    let before = failures.len();
    if &transcript.evidence_id != evidence_id {
        fail(&mut failures, Tampering::InsertedEntry, None, "the transcript is of another item");
    }
    let mut leaves = Vec::with_capacity(transcript.entries.len());
    for e in &transcript.entries {
        let leaf = merkle::leaf_hash(&e.entry.to_bytes());
        if merkle::parse_hash(&e.leaf_hash) != Some(leaf) || &e.entry.evidence_id != evidence_id {
            fail(&mut failures, Tampering::ChangedEntry, Some(e.entry.sequence), "its leaf hash is not its content's");
        }
        leaves.push((e.entry.sequence, leaf));
    }
    check("leaf_hashes", &failures, before);

    let before = failures.len();
    for pair in transcript.entries.windows(2) {
        let [previous, entry] = pair else { continue };
        let previous_leaf = argus_crypto::hex(&merkle::leaf_hash(&previous.entry.to_bytes()));
        if previous.entry.sequence.checked_add(1) == Some(entry.entry.sequence)
            && entry.entry.previous_hash.as_deref() != Some(previous_leaf.as_str())
        {
            fail(&mut failures, Tampering::ChangedEntry, Some(entry.entry.sequence), "previous_hash breaks the chain");
        }
    }
    check("hash_chain", &failures, before);

    let before = failures.len();
    against_stored(&leaves, stored, &mut failures);
    check("recorded_entries", &failures, before);

    let before_roots = failures.len();
    let mut frontier = Frontier::default();
    let mut size = 0i64;
    let mut head_failures = Vec::new();
    for e in &transcript.entries {
        frontier.push(merkle::leaf_hash(&e.entry.to_bytes()));
        size += 1;
        check_head(evidence_id, &e.tree_head, size, &frontier.root(), &key, &mut head_failures);
    }
    let root = frontier.root();
    match &transcript.tree_head {
        Some(head) => check_head(evidence_id, head, size, &root, &key, &mut head_failures),
        None if size > 0 => fail(&mut head_failures, Tampering::WrongRoot, None, "no tree head"),
        None => {}
    }
    let (signatures, roots): (Vec<Failure>, Vec<Failure>) =
        head_failures.into_iter().partition(|f| f.kind != Tampering::WrongRoot);
    failures.extend(roots);
    check("tree_roots", &failures, before_roots);
    let before = failures.len();
    failures.extend(signatures);
    check("signatures", &failures, before);

    let before = failures.len();
    let all: Vec<Hash> = leaves.iter().map(|(_, leaf)| *leaf).collect();
    for (i, e) in transcript.entries.iter().enumerate() {
        let proof: Option<Vec<Hash>> = e.inclusion_proof.iter().map(|h| merkle::parse_hash(h)).collect();
        let included = proof.is_some_and(|p| merkle::verify_inclusion(i as u64, all.len() as u64, &all[i], &p, &root));
        if !e.inclusion_proof.is_empty() && !included {
            fail(&mut failures, Tampering::WrongRoot, Some(e.entry.sequence), "its inclusion proof does not verify");
        }
    }
    check("inclusion_proofs", &failures, before);

    if let Some(earlier) = earlier {
        let before = failures.len();
        let extends = usize::try_from(earlier.tree_size).ok().is_some_and(|m| {
            let earlier_root = merkle::parse_hash(&earlier.root_hash);
            merkle::consistency_proof(&all, m).zip(earlier_root).is_some_and(|(proof, earlier_root)| {
                merkle::verify_consistency(m as u64, all.len() as u64, &earlier_root, &root, &proof)
            })
        });
        if !extends {
            fail(
                &mut failures,
                Tampering::BrokenConsistency,
                None,
                format!("the transcript does not extend the tree head of size {}", earlier.tree_size),
            );
        }
        check("consistency", &failures, before);
    }

    Verification { valid: failures.is_empty(), tree_size: size, root_hash: argus_crypto::hex(&root), checks, failures }
}

#[cfg(test)]
mod tests {
    use argus_crypto::provenance::{HMAC_SHA256, ProvenanceSealer};
    use argus_types::TenantId;

    use super::*;
    use crate::evidence::EvidenceOperation;

    /// A transcript of `n` entries signed with `key` (id `kid`), built as
    /// the store builds one.
    fn signed(n: i64, kid: &str, key: &TreeHeadKey) -> (EvidenceId, Transcript, Vec<Hash>) {
        let id = EvidenceId::generate();
        let tenant = TenantId::generate();
        let mut frontier = Frontier::default();
        let mut previous: Option<Hash> = None;
        let mut rows = Vec::new();
        for sequence in 1..=n {
            let entry = TranscriptEntry {
                evidence_id: id.clone(),
                tenant_id: tenant.clone(),
                sequence,
                operation: if sequence == 1 { EvidenceOperation::Create } else { EvidenceOperation::View },
                actor: "usr_a".into(),
                client_id: "app_a".into(),
                recorded_at: format!("2026-12-06T03:00:{sequence:02}.000000Z"),
                content_sha256: "ab".repeat(32),
                details: None,
                custodian: None,
                previous_hash: previous.map(|h| argus_crypto::hex(&h)),
            };
            let leaf = merkle::leaf_hash(&entry.to_bytes());
            frontier.push(leaf);
            let root = argus_crypto::hex(&frontier.root());
            let message = TreeHead::signed_bytes(&id, sequence, &root, &entry.recorded_at, HMAC_SHA256, kid);
            let head = TreeHead {
                tree_size: sequence,
                root_hash: root,
                timestamp: entry.recorded_at.clone(),
                algorithm: HMAC_SHA256.into(),
                key_id: kid.into(),
                signature: argus_crypto::hex(&key.sign(&message)),
            };
            previous = Some(leaf);
            rows.push((entry, leaf, head));
        }
        let leaves = rows.iter().map(|(_, leaf, _)| *leaf).collect();
        (id.clone(), Transcript::of(id, rows), leaves)
    }

    fn kinds(v: &Verification) -> Vec<(Tampering, Option<i64>)> {
        v.failures.iter().map(|f| (f.kind, f.sequence)).collect()
    }

    #[test]
    fn an_untouched_transcript_verifies_and_every_tampering_is_named() {
        let sealer = ProvenanceSealer::new(b"pepper");
        let key = sealer.open("pvk_a", &sealer.new_sealed_key("pvk_a")).unwrap();
        let (id, transcript, stored) = signed(6, "pvk_a", &key);
        let keys = |kid: &str| (kid == "pvk_a").then(|| key.clone());
        let check = |t: &Transcript, earlier: Option<&EarlierHead>| verify(&id, t, &stored, earlier, keys);

        let clean = check(&transcript, None);
        assert!(clean.valid, "{clean:?}");
        assert_eq!(clean.tree_size, 6);
        assert!(clean.checks.iter().all(|c| c.passed));

        let mut changed = transcript.clone();
        changed.entries[2].entry.details = Some("edited".into());
        assert!(kinds(&check(&changed, None)).contains(&(Tampering::ChangedEntry, Some(3))));

        let mut dropped = transcript.clone();
        dropped.entries.remove(3);
        assert!(kinds(&check(&dropped, None)).contains(&(Tampering::DroppedEntry, Some(4))));

        let mut reordered = transcript.clone();
        reordered.entries.swap(1, 4);
        assert!(kinds(&check(&reordered, None)).contains(&(Tampering::ReorderedEntry, Some(2))));

        let mut inserted = transcript.clone();
        let mut extra = inserted.entries[5].clone();
        extra.entry.sequence = 7;
        inserted.entries.push(extra);
        assert!(kinds(&check(&inserted, None)).contains(&(Tampering::InsertedEntry, Some(7))));

        let mut bad_signature = transcript.clone();
        bad_signature.entries[0].tree_head.signature = "00".repeat(32);
        assert!(kinds(&check(&bad_signature, None)).contains(&(Tampering::BadSignature, Some(1))));

        let mut unknown = transcript.clone();
        unknown.entries[4].tree_head.key_id = "pvk_b".into();
        assert!(kinds(&check(&unknown, None)).contains(&(Tampering::UnknownKey, Some(5))));

        let mut wrong_root = transcript.clone();
        wrong_root.entries[1].tree_head.root_hash = "11".repeat(32);
        assert!(kinds(&check(&wrong_root, None)).contains(&(Tampering::WrongRoot, Some(2))));

        let earlier = EarlierHead { tree_size: 3, root_hash: transcript.entries[2].tree_head.root_hash.clone() };
        assert!(check(&transcript, Some(&earlier)).valid);
        let forged = EarlierHead { tree_size: 3, root_hash: "22".repeat(32) };
        assert_eq!(kinds(&check(&transcript, Some(&forged))), [(Tampering::BrokenConsistency, None)]);
        let beyond = EarlierHead { tree_size: 9, root_hash: transcript.entries[2].tree_head.root_hash.clone() };
        assert_eq!(kinds(&check(&transcript, Some(&beyond))), [(Tampering::BrokenConsistency, None)]);
    }

    #[test]
    fn hostile_sequences_and_hashes_answer_without_panicking() {
        let sealer = ProvenanceSealer::new(b"pepper");
        let key = sealer.open("pvk_a", &sealer.new_sealed_key("pvk_a")).unwrap();
        let (id, transcript, stored) = signed(3, "pvk_a", &key);
        let mut hostile = transcript.clone();
        hostile.entries[0].entry.sequence = i64::MIN;
        hostile.entries[1].entry.sequence = i64::MAX;
        hostile.entries[2].leaf_hash = "zz".into();
        hostile.entries[2].inclusion_proof = vec!["not hex".into(), "ab".repeat(40)];
        hostile.entries[2].tree_head.signature = "odd".into();
        hostile.entries[2].tree_head.tree_size = i64::MIN;
        let earlier = EarlierHead { tree_size: i64::MIN, root_hash: String::new() };
        let v = verify(&id, &hostile, &stored, Some(&earlier), |_| Some(key.clone()));
        assert!(!v.valid);
        let v = verify(&id, &hostile, &[], None, |_| None);
        assert!(!v.valid);
    }

    #[test]
    fn a_change_to_any_byte_of_any_entry_is_found() {
        let sealer = ProvenanceSealer::new(b"pepper");
        let key = sealer.open("pvk_a", &sealer.new_sealed_key("pvk_a")).unwrap();
        let (id, transcript, stored) = signed(5, "pvk_a", &key);
        for i in 0..transcript.entries.len() {
            let mut t = transcript.clone();
            t.entries[i].entry.actor.push('x');
            let v = verify(&id, &t, &stored, None, |_| Some(key.clone()));
            assert!(!v.valid, "entry {i}");
        }
    }
}
