//! The verification of a transcript document, server-side (against the
//! entries recorded) or offline (against its own sequence numbers and
//! signed tree heads), naming every entry that fails.

use std::borrow::Cow;
use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::merkle::{self, Frontier, Hash};
use crate::transcript::{EarlierHead, Transcript, TreeHead};
use crate::{VerifyKey, hex, unhex};
use argus_types::EvidenceId;

/// What a verification found wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Tampering {
    /// The entry's content differs from what was recorded, or from its
    /// leaf hash.
    ChangedEntry,
    /// A recorded entry is missing.
    DroppedEntry,
    /// An entry that was never recorded.
    InsertedEntry,
    /// A recorded entry out of its place.
    ReorderedEntry,
    /// A tree head's root is not the root of the entries up to it.
    WrongRoot,
    /// A tree head's signature does not verify with its key.
    BadSignature,
    /// A tree head names a key the verifier does not have.
    UnknownKey,
    /// The transcript does not extend the earlier tree head.
    BrokenConsistency,
}

/// One thing found wrong, and the entry (by sequence) it is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Failure {
    pub kind: Tampering,
    pub sequence: Option<i64>,
    pub detail: String,
}

/// A check and whether it passed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Check {
    // The verifier's own names, borrowed; owned when read back from JSON.
    #[schema(value_type = String)]
    pub name: Cow<'static, str>,
    pub passed: bool,
}

/// What a verification answers: every check, every failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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

/// At most this many missing sequence numbers are named one by one (a
/// hostile transcript can claim any sequence); the rest as one failure.
const MAX_NAMED_GAPS: usize = 1000;

/// Offline, with no record of the entries: the submitted entries
/// (sequence, leaf) against their own numbering and the latest signed tree
/// head's size `signed_size`: a number used twice or beyond the signed
/// size (inserted), a number lower than one before it (reordered), a
/// number missing up to the largest or to the signed size (dropped).
fn against_sequence(submitted: &[(i64, Hash)], signed_size: Option<i64>, failures: &mut Vec<Failure>) {
    let mut seen = BTreeSet::new();
    let mut highest = 0i64;
    for (sequence, _) in submitted {
        if *sequence < 1 || !seen.insert(*sequence) {
            fail(failures, Tampering::InsertedEntry, Some(*sequence), "its sequence number is taken or invalid");
        } else if signed_size.is_some_and(|n| *sequence > n) {
            fail(failures, Tampering::InsertedEntry, Some(*sequence), "after the latest signed tree head");
        } else if *sequence < highest {
            fail(failures, Tampering::ReorderedEntry, Some(*sequence), format!("after entry {highest}"));
        }
        highest = highest.max(*sequence);
    }
    let last = signed_size.unwrap_or(highest).max(highest);
    let mut named = 0;
    let mut expected = 1i64;
    for present in seen.iter().copied().chain(last.checked_add(1)) {
        if present < expected {
            continue;
        }
        let missing = (expected..present).take(MAX_NAMED_GAPS.saturating_sub(named));
        for sequence in missing {
            named += 1;
            fail(failures, Tampering::DroppedEntry, Some(sequence), "missing from the transcript");
        }
        if named >= MAX_NAMED_GAPS && present > expected {
            fail(failures, Tampering::DroppedEntry, None, format!("entries before {present} are missing"));
            break;
        }
        expected = present.saturating_add(1);
    }
}

/// A head's root and signature: `expected_size` entries with root `root`.
fn check_head(
    evidence_id: &EvidenceId,
    head: &TreeHead,
    expected_size: i64,
    root: &Hash,
    key: &impl Fn(&str) -> Option<VerifyKey>,
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
    let signature = unhex(&head.signature);
    match key(&head.key_id) {
        None => fail(failures, Tampering::UnknownKey, Some(expected_size), format!("no key {}", head.key_id)),
        Some(k) if head.algorithm != k.algorithm().as_str() || !signature.is_some_and(|s| k.verify(&message, &s)) => {
            fail(failures, Tampering::BadSignature, Some(expected_size), "the signature does not verify")
        }
        Some(_) => {}
    }
}

/// Verifies `transcript` of the item `evidence_id`: each entry's leaf hash
/// recomputed, against the `stored` leaves (what was recorded; `None`
/// offline, where the entries' own numbering and the signed heads stand
/// in), each tree head's root and signature (`key` finds a key by id), the
/// inclusion proofs, and that it extends `earlier`.
pub fn verify(
    evidence_id: &EvidenceId,
    transcript: &Transcript,
    stored: Option<&[Hash]>,
    earlier: Option<&EarlierHead>,
    key: impl Fn(&str) -> Option<VerifyKey>,
) -> Verification {
    let mut failures = Vec::new();
    let mut checks = Vec::new();
    let mut check = |name: &'static str, failures: &Vec<Failure>, before: usize| {
        checks.push(Check { name: Cow::Borrowed(name), passed: failures.len() == before });
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
        let previous_leaf = hex(&merkle::leaf_hash(&previous.entry.to_bytes()));
        if previous.entry.sequence.checked_add(1) == Some(entry.entry.sequence)
            && entry.entry.previous_hash.as_deref() != Some(previous_leaf.as_str())
        {
            fail(&mut failures, Tampering::ChangedEntry, Some(entry.entry.sequence), "previous_hash breaks the chain");
        }
    }
    check("hash_chain", &failures, before);

    let before = failures.len();
    match stored {
        Some(stored) => {
            against_stored(&leaves, stored, &mut failures);
            check("recorded_entries", &failures, before);
        }
        None => {
            against_sequence(&leaves, transcript.tree_head.as_ref().map(|h| h.tree_size), &mut failures);
            check("sequence", &failures, before);
        }
    }

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

    Verification { valid: failures.is_empty(), tree_size: size, root_hash: hex(&root), checks, failures }
}

/// Verifies a saved transcript with no server: [`verify`] of its own item,
/// against its own numbering and signed heads, with `keys` (the published
/// ML-DSA-65 set, or the tenant's HMAC keys as `argusctl provenance keys`
/// exports them).
pub fn verify_offline(transcript: &Transcript, earlier: Option<&EarlierHead>, keys: &crate::JwkSet) -> Verification {
    // Each key decoded once (an ML-DSA-65 key's decoding expands its matrix).
    let decoded: Vec<(&str, VerifyKey)> =
        keys.keys.iter().filter_map(|k| Some((k.kid.as_str(), k.verify_key()?))).collect();
    let key = |kid: &str| decoded.iter().find(|(id, _)| *id == kid).map(|(_, k)| k.clone());
    verify(&transcript.evidence_id, transcript, None, earlier, key)
}

#[cfg(test)]
mod tests {
    use argus_types::TenantId;
    use hmac::{Hmac, KeyInit, Mac};
    use ml_dsa::{ExpandedSigningKey, MlDsa65};
    use sha2::Sha256;

    use super::*;
    use crate::transcript::{EvidenceOperation, TranscriptEntry};
    use crate::{Algorithm, Jwk, JwkSet};

    /// A key of `algorithm` (signing here as argus-crypto signs, with the
    /// crates' own APIs), and its JWK as a verifier gets it.
    struct TestKey {
        algorithm: Algorithm,
        secret: [u8; 32],
    }

    impl TestKey {
        fn new(algorithm: Algorithm) -> Self {
            Self { algorithm, secret: [algorithm as u8 + 1; 32] }
        }

        fn ml_dsa(&self) -> ExpandedSigningKey<MlDsa65> {
            ExpandedSigningKey::from_seed(&self.secret.into())
        }

        fn sign(&self, message: &[u8]) -> Vec<u8> {
            match self.algorithm {
                Algorithm::HmacSha256 => {
                    let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).unwrap();
                    mac.update(message);
                    mac.finalize().into_bytes().to_vec()
                }
                Algorithm::MlDsa65 => self.ml_dsa().sign_deterministic(message, &[]).unwrap().encode().to_vec(),
            }
        }

        fn jwk(&self, kid: &str) -> Jwk {
            match self.algorithm {
                Algorithm::HmacSha256 => Jwk::hmac_sha256(kid, &self.secret),
                Algorithm::MlDsa65 => Jwk::ml_dsa_65(kid, &self.ml_dsa().verifying_key().encode()),
            }
        }

        fn verify_key(&self) -> VerifyKey {
            self.jwk("pvk_a").verify_key().unwrap()
        }
    }

    fn keypair(algorithm: Algorithm) -> (TestKey, VerifyKey) {
        let key = TestKey::new(algorithm);
        let verify = key.verify_key();
        (key, verify)
    }

    /// A transcript of `n` entries signed with `key` (id `kid`), built as
    /// the store builds one.
    fn signed(n: i64, kid: &str, key: &TestKey) -> (EvidenceId, Transcript, Vec<Hash>) {
        let algorithm = key.algorithm.as_str();
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
                previous_hash: previous.map(|h| hex(&h)),
            };
            let leaf = merkle::leaf_hash(&entry.to_bytes());
            frontier.push(leaf);
            let root = hex(&frontier.root());
            let message = TreeHead::signed_bytes(&id, sequence, &root, &entry.recorded_at, algorithm, kid);
            let head = TreeHead {
                tree_size: sequence,
                root_hash: root,
                timestamp: entry.recorded_at.clone(),
                algorithm: algorithm.into(),
                key_id: kid.into(),
                signature: hex(&key.sign(&message)),
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
        for algorithm in Algorithm::ALL {
            every_tampering_is_named(algorithm);
        }
    }

    #[test]
    fn a_head_under_the_other_algorithm_does_not_verify() {
        let (hmac, _) = keypair(Algorithm::HmacSha256);
        let (_, ml_dsa) = keypair(Algorithm::MlDsa65);
        let (id, transcript, stored) = signed(2, "pvk_a", &hmac);
        let v = verify(&id, &transcript, Some(&stored), None, |_| Some(ml_dsa.clone()));
        assert!(kinds(&v).contains(&(Tampering::BadSignature, Some(1))), "{v:?}");
    }

    #[test]
    fn offline_every_tampering_is_named_with_the_exported_or_published_keys() {
        for algorithm in Algorithm::ALL {
            let key = TestKey::new(algorithm);
            let (_, transcript, _) = signed(6, "pvk_a", &key);
            let keys = JwkSet { keys: vec![key.jwk("pvk_a")] };
            let check = |t: &Transcript| verify_offline(t, None, &keys);
            let has = |t: &Transcript, kind: Tampering, sequence: Option<i64>| {
                let v = check(t);
                assert!(!v.valid && kinds(&v).contains(&(kind, sequence)), "{algorithm}: {kind:?} {sequence:?}: {v:?}");
            };

            let clean = check(&transcript);
            assert!(clean.valid, "{clean:?}");
            assert!(clean.checks.iter().any(|c| c.name == "sequence" && c.passed));

            let mut changed = transcript.clone();
            changed.entries[2].entry.custodian = Some("someone else".into());
            has(&changed, Tampering::ChangedEntry, Some(3));

            let mut dropped = transcript.clone();
            dropped.entries.remove(3);
            has(&dropped, Tampering::DroppedEntry, Some(4));
            let mut tail = transcript.clone();
            tail.entries.truncate(4);
            has(&tail, Tampering::DroppedEntry, Some(6));

            let mut reordered = transcript.clone();
            reordered.entries.swap(1, 4);
            has(&reordered, Tampering::ReorderedEntry, Some(2));

            let mut inserted = transcript.clone();
            let mut extra = inserted.entries[5].clone();
            extra.entry.sequence = 7;
            inserted.entries.push(extra);
            has(&inserted, Tampering::InsertedEntry, Some(7));
            let mut twice = transcript.clone();
            let copy = twice.entries[2].clone();
            twice.entries.insert(3, copy);
            has(&twice, Tampering::InsertedEntry, Some(3));

            let mut wrong_root = transcript.clone();
            wrong_root.entries[1].tree_head.root_hash = "11".repeat(32);
            has(&wrong_root, Tampering::WrongRoot, Some(2));

            let mut bad_signature = transcript.clone();
            let signature = &mut bad_signature.entries[3].tree_head.signature;
            let last = if signature.ends_with('0') { "1" } else { "0" };
            signature.replace_range(signature.len() - 1.., last);
            has(&bad_signature, Tampering::BadSignature, Some(4));

            let without = JwkSet::default();
            assert!(kinds(&verify_offline(&transcript, None, &without)).contains(&(Tampering::UnknownKey, Some(1))));

            let forged = EarlierHead { tree_size: 3, root_hash: "22".repeat(32) };
            let v = verify_offline(&transcript, Some(&forged), &keys);
            assert_eq!(kinds(&v), [(Tampering::BrokenConsistency, None)], "{algorithm}");
            let held = EarlierHead { tree_size: 3, root_hash: transcript.entries[2].tree_head.root_hash.clone() };
            assert!(verify_offline(&transcript, Some(&held), &keys).valid);
        }
    }

    fn every_tampering_is_named(algorithm: Algorithm) {
        let (key, verify_key) = keypair(algorithm);
        let (id, transcript, stored) = signed(6, "pvk_a", &key);
        let keys = |kid: &str| (kid == "pvk_a").then(|| verify_key.clone());
        let check = |t: &Transcript, earlier: Option<&EarlierHead>| verify(&id, t, Some(&stored), earlier, keys);

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
        let mut flipped = transcript.clone();
        let signature = &mut flipped.entries[3].tree_head.signature;
        let last = if signature.ends_with('0') { "1" } else { "0" };
        signature.replace_range(signature.len() - 1.., last);
        assert_eq!(kinds(&check(&flipped, None)), [(Tampering::BadSignature, Some(4))], "{algorithm}");

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
        let (key, verify_key) = keypair(Algorithm::MlDsa65);
        let (id, transcript, stored) = signed(3, "pvk_a", &key);
        let mut hostile = transcript.clone();
        hostile.entries[0].entry.sequence = i64::MIN;
        hostile.entries[1].entry.sequence = i64::MAX;
        hostile.entries[2].leaf_hash = "zz".into();
        hostile.entries[2].inclusion_proof = vec!["not hex".into(), "ab".repeat(40)];
        hostile.entries[2].tree_head.signature = "odd".into();
        hostile.entries[2].tree_head.tree_size = i64::MIN;
        let earlier = EarlierHead { tree_size: i64::MIN, root_hash: String::new() };
        let v = verify(&id, &hostile, Some(&stored), Some(&earlier), |_| Some(verify_key.clone()));
        assert!(!v.valid);
        let v = verify(&id, &hostile, None, None, |_| None);
        assert!(!v.valid);
    }

    #[test]
    fn a_change_to_any_byte_of_any_entry_is_found() {
        let (key, verify_key) = keypair(Algorithm::HmacSha256);
        let (id, transcript, stored) = signed(5, "pvk_a", &key);
        for i in 0..transcript.entries.len() {
            let mut t = transcript.clone();
            t.entries[i].entry.actor.push('x');
            let v = verify(&id, &t, Some(&stored), None, |_| Some(verify_key.clone()));
            assert!(!v.valid, "entry {i}");
        }
    }
}
