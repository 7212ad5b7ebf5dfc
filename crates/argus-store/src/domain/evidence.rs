//! Evidence items and their transcripts: every operation on an item, a
//! read included, appends one entry in the transaction that performs it,
//! hashed as an RFC 9162 leaf; the item keeps the tree's size and root.

use argus_crypto::provenance::{ProvenanceSealer, TreeHeadSigner};
use argus_domain::evidence::{
    EvidenceOperation, NewEvidence, OperationRefused, OperationRule, RecordOperation, TranscriptEntry,
};
use argus_domain::{EventKind, FieldErrors};
use argus_provenance::merkle::{self, Frontier, Hash};
use argus_provenance::{Algorithm, TreeHead, VerifyKey};
use argus_types::{CaseId, EvidenceId, IncidentId, ProvenanceKeyId, TenantId};
use chrono::{DateTime, SubsecRound, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;

use super::announce;
use crate::schema::{cases, evidence_entries, evidence_items, incidents, provenance_keys};
use crate::stored_text::Stored;
use crate::tenant_rows::{TenantTable, find_row, tenant_table};
use crate::{Store, StoreError, WriteStamp};

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = evidence_items, check_for_backend(diesel::pg::Pg))]
pub struct EvidenceRecord {
    #[diesel(deserialize_as = Stored<EvidenceId>)]
    pub id: EvidenceId,
    #[serde(skip)]
    #[diesel(deserialize_as = Stored<TenantId>)]
    pub tenant_id: TenantId,
    #[diesel(deserialize_as = Stored<Option<IncidentId>>)]
    pub incident_id: Option<IncidentId>,
    #[diesel(deserialize_as = Stored<Option<CaseId>>)]
    pub case_id: Option<CaseId>,
    pub name: String,
    pub media_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub sealed_at: Option<DateTime<Utc>>,
    /// How many entries the transcript holds: its tree's size.
    pub transcript_size: i64,
    #[serde(skip)]
    pub tree_root: Option<Vec<u8>>,
    /// The tree's subtree roots, largest first ([`Frontier::hashes`]).
    #[serde(skip)]
    pub tree_frontier: Vec<u8>,
}

/// One stored transcript entry, with its leaf hash and the tree's root
/// once it was in.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = evidence_entries, check_for_backend(diesel::pg::Pg))]
pub struct EntryRecord {
    #[diesel(deserialize_as = Stored<EvidenceId>)]
    pub evidence_id: EvidenceId,
    pub sequence: i64,
    #[diesel(deserialize_as = Stored<TenantId>)]
    pub tenant_id: TenantId,
    #[diesel(deserialize_as = Stored<EvidenceOperation>)]
    pub operation: EvidenceOperation,
    pub actor: String,
    pub client_id: String,
    pub recorded_at: DateTime<Utc>,
    pub content_sha256: String,
    pub details: Option<String>,
    pub custodian: Option<String>,
    pub previous_hash: Option<Vec<u8>>,
    pub leaf_hash: Vec<u8>,
    pub tree_root: Vec<u8>,
    pub key_id: String,
    pub signature: Vec<u8>,
    #[diesel(deserialize_as = Stored<Algorithm>)]
    pub algorithm: Algorithm,
}

impl EntryRecord {
    /// The entry as its leaf hashes it.
    pub fn entry(&self) -> TranscriptEntry {
        TranscriptEntry {
            evidence_id: self.evidence_id.clone(),
            tenant_id: self.tenant_id.clone(),
            sequence: self.sequence,
            operation: self.operation,
            actor: self.actor.clone(),
            client_id: self.client_id.clone(),
            recorded_at: TranscriptEntry::time_text(self.recorded_at),
            content_sha256: self.content_sha256.clone(),
            details: self.details.clone(),
            custodian: self.custodian.clone(),
            previous_hash: self.previous_hash.as_deref().map(argus_crypto::hex),
        }
    }
}

impl EntryRecord {
    /// The signed tree head once this entry was in.
    pub fn tree_head(&self) -> TreeHead {
        TreeHead {
            tree_size: self.sequence,
            root_hash: argus_crypto::hex(&self.tree_root),
            timestamp: TranscriptEntry::time_text(self.recorded_at),
            algorithm: self.algorithm.as_str().to_owned(),
            key_id: self.key_id.clone(),
            signature: argus_crypto::hex(&self.signature),
        }
    }

    /// The leaf hash as stored.
    pub fn leaf(&self) -> Result<Hash, StoreError> {
        Hash::try_from(self.leaf_hash.as_slice())
            .map_err(|_| StoreError::Corrupt(format!("leaf {} of {}", self.sequence, self.evidence_id)))
    }
}

/// A tree-head key as stored: sealed.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = provenance_keys, check_for_backend(diesel::pg::Pg))]
pub struct StoredProvenanceKey {
    pub id: String,
    #[diesel(deserialize_as = Stored<Algorithm>)]
    pub algorithm: Algorithm,
    pub sealed_key: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub retired_at: Option<DateTime<Utc>>,
    /// An ML-DSA-65 key's public key (FIPS 204 pkEncode); `None` for HMAC.
    pub public_key: Option<Vec<u8>>,
}

impl StoredProvenanceKey {
    /// The key that verifies its heads: the public key, or for HMAC the
    /// secret, opened.
    pub fn verify_key(&self, sealer: &ProvenanceSealer) -> Result<VerifyKey, StoreError> {
        match (self.algorithm, &self.public_key) {
            (Algorithm::HmacSha256, _) => Ok(VerifyKey::HmacSha256(sealer.open_secret(&self.id, &self.sealed_key)?)),
            (Algorithm::MlDsa65, Some(public)) => VerifyKey::ml_dsa_65(public)
                .ok_or_else(|| StoreError::Corrupt(format!("the public key of provenance key {}", self.id))),
            (Algorithm::MlDsa65, None) => {
                Err(StoreError::Corrupt(format!("provenance key {} has no public key", self.id)))
            }
        }
    }
}

/// Makes a new `algorithm` key the tenant's current one, unless it has
/// one (the partial unique index keeps one current key a tenant: a racing
/// first use inserts nothing).
async fn insert_current_key(
    conn: &mut AsyncPgConnection,
    tenant: &TenantId,
    algorithm: Algorithm,
    sealer: &ProvenanceSealer,
) -> Result<(), StoreError> {
    let kid = ProvenanceKeyId::generate();
    let new = sealer.new_key(kid.as_str(), algorithm);
    diesel::insert_into(provenance_keys::table)
        .values((
            provenance_keys::id.eq(kid.as_str()),
            provenance_keys::tenant_id.eq(tenant.as_str()),
            provenance_keys::algorithm.eq(algorithm.as_str()),
            provenance_keys::sealed_key.eq(&new.sealed),
            provenance_keys::public_key.eq(&new.public),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(())
}

/// The tenant's current tree-head key, as stored; `None` before its first.
async fn stored_current_key(
    conn: &mut AsyncPgConnection,
    tenant: &TenantId,
) -> Result<Option<StoredProvenanceKey>, StoreError> {
    Ok(provenance_keys::table
        .filter(provenance_keys::tenant_id.eq(tenant.as_str()))
        .filter(provenance_keys::retired_at.is_null())
        .select(StoredProvenanceKey::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// The tenant's current tree-head key, created (HMAC-SHA256, the default)
/// on first use: its id and the key, opened.
async fn current_key(
    conn: &mut AsyncPgConnection,
    tenant: &TenantId,
    sealer: &ProvenanceSealer,
) -> Result<(String, TreeHeadSigner), StoreError> {
    let stored = match stored_current_key(conn, tenant).await? {
        Some(key) => key,
        None => {
            insert_current_key(conn, tenant, Algorithm::HmacSha256, sealer).await?;
            stored_current_key(conn, tenant)
                .await?
                .ok_or_else(|| StoreError::Corrupt("no current provenance key".into()))?
        }
    };
    let key = sealer.open(&stored.id, stored.algorithm, &stored.sealed_key)?;
    Ok((stored.id, key))
}

/// Retires the tenant's current key (kept: the heads it signed stay
/// verifiable) and makes a new `algorithm` key current; the new key's id.
async fn replace_current_key(
    conn: &mut AsyncPgConnection,
    tenant: &TenantId,
    algorithm: Algorithm,
    sealer: &ProvenanceSealer,
) -> Result<String, StoreError> {
    diesel::update(provenance_keys::table)
        .filter(provenance_keys::tenant_id.eq(tenant.as_str()))
        .filter(provenance_keys::retired_at.is_null())
        .set(provenance_keys::retired_at.eq(diesel::dsl::now))
        .execute(conn)
        .await?;
    insert_current_key(conn, tenant, algorithm, sealer).await?;
    Ok(current_key(conn, tenant, sealer).await?.0)
}

/// Who performs an operation: the token's subject and app.
#[derive(Debug, Clone, Copy)]
pub struct EvidenceActor<'a> {
    pub subject: &'a str,
    pub client_id: &'a str,
}

tenant_table!(evidence_items);

/// The item's leaf hashes, in order.
async fn leaf_hashes(conn: &mut AsyncPgConnection, id: &EvidenceId) -> Result<Vec<Hash>, StoreError> {
    let stored: Vec<Vec<u8>> = evidence_entries::table
        .filter(evidence_entries::evidence_id.eq(id.as_str()))
        .order(evidence_entries::sequence.asc())
        .select(evidence_entries::leaf_hash)
        .load(conn)
        .await?;
    stored
        .into_iter()
        .map(|h| Hash::try_from(h.as_slice()).map_err(|_| StoreError::Corrupt(format!("a leaf hash of {id}"))))
        .collect()
}

/// The tree over `item`'s transcript so far, and its last leaf: the
/// frontier stored on the item (O(log n) hashes), or, for an item from
/// before the frontier was kept, the frontier rebuilt from every leaf.
async fn tree_so_far(
    conn: &mut AsyncPgConnection,
    item: &EvidenceRecord,
) -> Result<(Frontier, Option<Hash>), StoreError> {
    let corrupt = || StoreError::Corrupt(format!("the transcript tree of {}", item.id));
    let size = u64::try_from(item.transcript_size).map_err(|_| corrupt())?;
    let stored: Option<Vec<Hash>> = item.tree_frontier.chunks(32).map(|c| Hash::try_from(c).ok()).collect();
    let frontier = match stored.and_then(|hashes| Frontier::from_hashes(size, &hashes)) {
        Some(frontier) => frontier,
        None => {
            let mut frontier = Frontier::default();
            leaf_hashes(conn, &item.id).await?.into_iter().for_each(|leaf| frontier.push(leaf));
            frontier
        }
    };
    if frontier.size() != size {
        return Err(corrupt());
    }
    if size == 0 {
        return Ok((frontier, None));
    }
    let last: Vec<u8> = evidence_entries::table
        .filter(evidence_entries::evidence_id.eq(item.id.as_str()))
        .filter(evidence_entries::sequence.eq(item.transcript_size))
        .select(evidence_entries::leaf_hash)
        .first(conn)
        .await?;
    Ok((frontier, Some(Hash::try_from(last.as_slice()).map_err(|_| corrupt())?)))
}

/// Appends an entry recorded at `recorded_at` (the write's stamp, or a
/// sandbox scenario's clock when seeding it) to the transcript of `item` (locked by the
/// caller, in its transaction), signs the tree head with the tenant's
/// current key and stores the tree's new size, root and frontier on the
/// item; a `SEAL` seals it.
pub(crate) async fn append_at(
    conn: &mut AsyncPgConnection,
    item: &EvidenceRecord,
    actor: EvidenceActor<'_>,
    operation: &RecordOperation,
    sealer: &ProvenanceSealer,
    recorded_at: DateTime<Utc>,
) -> Result<EvidenceRecord, StoreError> {
    let (mut frontier, previous) = tree_so_far(conn, item).await?;
    let sequence = item.transcript_size + 1;
    let recorded_at = recorded_at.trunc_subsecs(6);
    let entry = TranscriptEntry {
        evidence_id: item.id.clone(),
        tenant_id: item.tenant_id.clone(),
        sequence,
        operation: operation.operation,
        actor: actor.subject.to_owned(),
        client_id: actor.client_id.to_owned(),
        recorded_at: TranscriptEntry::time_text(recorded_at),
        content_sha256: item.sha256.clone(),
        details: operation.details.clone(),
        custodian: operation.custodian.clone(),
        previous_hash: previous.as_ref().map(|h| argus_crypto::hex(h)),
    };
    let leaf = merkle::leaf_hash(&entry.to_bytes());
    frontier.push(leaf);
    let root = frontier.root();
    let root_hex = argus_crypto::hex(&root);
    let (key_id, key) = current_key(conn, &item.tenant_id, sealer).await?;
    let algorithm = key.algorithm();
    let head = TreeHead::signed_bytes(&item.id, sequence, &root_hex, &entry.recorded_at, algorithm.as_str(), &key_id);
    let signature = key.sign(&head);
    diesel::insert_into(evidence_entries::table)
        .values((
            evidence_entries::evidence_id.eq(item.id.as_str()),
            evidence_entries::sequence.eq(sequence),
            evidence_entries::tenant_id.eq(item.tenant_id.as_str()),
            evidence_entries::operation.eq(operation.operation.as_str()),
            evidence_entries::actor.eq(actor.subject),
            evidence_entries::client_id.eq(actor.client_id),
            evidence_entries::recorded_at.eq(recorded_at),
            evidence_entries::content_sha256.eq(&item.sha256),
            evidence_entries::details.eq(&operation.details),
            evidence_entries::custodian.eq(&operation.custodian),
            evidence_entries::previous_hash.eq(previous.as_ref().map(|h| h.as_slice())),
            evidence_entries::leaf_hash.eq(leaf.as_slice()),
            evidence_entries::tree_root.eq(root.as_slice()),
            evidence_entries::key_id.eq(&key_id),
            evidence_entries::signature.eq(&signature),
            evidence_entries::algorithm.eq(algorithm.as_str()),
        ))
        .execute(conn)
        .await?;
    let sealed_at = match operation.operation {
        EvidenceOperation::Seal => Some(recorded_at),
        _ => item.sealed_at,
    };
    Ok(diesel::update(evidence_items::table.tenant_row(&item.tenant_id, item.id.as_str()))
        .set((
            evidence_items::transcript_size.eq(sequence),
            evidence_items::tree_root.eq(root.as_slice()),
            evidence_items::tree_frontier.eq(frontier.hashes().flatten().copied().collect::<Vec<u8>>()),
            evidence_items::sealed_at.eq(sealed_at),
        ))
        .returning(EvidenceRecord::as_returning())
        .get_result(conn)
        .await?)
}

/// The fields of `new` that name an incident or a case the tenant does not
/// have.
async fn unknown_links(
    conn: &mut AsyncPgConnection,
    tenant: &TenantId,
    new: &NewEvidence,
) -> Result<FieldErrors, StoreError> {
    let mut errors = FieldErrors::default();
    if let Some(incident) = &new.incident_id {
        let found: Option<String> = incidents::table
            .filter(incidents::tenant_id.eq(tenant.as_str()))
            .filter(incidents::id.eq(incident.as_str()))
            .select(incidents::id)
            .first(conn)
            .await
            .optional()?;
        if found.is_none() {
            errors.push("incidentId", format!("no incident {incident} in this tenant"));
        }
    }
    if let Some(case) = &new.case_id {
        let found: Option<String> = cases::table
            .filter(cases::tenant_id.eq(tenant.as_str()))
            .filter(cases::id.eq(case.as_str()))
            .select(cases::id)
            .first(conn)
            .await
            .optional()?;
        if found.is_none() {
            errors.push("caseId", format!("no case {case} in this tenant"));
        }
    }
    Ok(errors)
}

impl Store {
    /// Creates an item attached to the tenant's incident or case, its
    /// transcript opened with a `CREATE` entry; announces
    /// `evidence.created`. Bad fields, or an incident or case the tenant
    /// does not have, are [`StoreError::Invalid`], each named.
    pub async fn create_evidence(
        &self,
        stamp: WriteStamp,
        tenant: &TenantId,
        new: NewEvidence,
        actor: EvidenceActor<'_>,
        sealer: &ProvenanceSealer,
    ) -> Result<EvidenceRecord, StoreError> {
        new.check().map_err(StoreError::Invalid)?;
        self.transaction(async |conn| {
            let unknown = unknown_links(conn, tenant, &new).await?;
            if !unknown.is_empty() {
                return Err(StoreError::Invalid(unknown));
            }
            let stamp = stamp.take(conn, tenant).await?;
            let item = diesel::insert_into(evidence_items::table)
                .values((
                    evidence_items::id.eq(stamp.id::<EvidenceId>("evidence", 0).as_str()),
                    evidence_items::tenant_id.eq(tenant.as_str()),
                    evidence_items::incident_id.eq(new.incident_id.as_ref().map(IncidentId::as_str)),
                    evidence_items::case_id.eq(new.case_id.as_ref().map(CaseId::as_str)),
                    evidence_items::name.eq(&new.name),
                    evidence_items::media_type.eq(&new.media_type),
                    evidence_items::size_bytes.eq(new.size_bytes),
                    evidence_items::sha256.eq(&new.sha256),
                    evidence_items::created_by.eq(actor.subject),
                    evidence_items::created_at.eq(stamp.time().trunc_subsecs(6)),
                ))
                .returning(EvidenceRecord::as_returning())
                .get_result(conn)
                .await?;
            let create = RecordOperation { operation: EvidenceOperation::Create, details: None, custodian: None };
            let item = append_at(conn, &item, actor, &create, sealer, stamp.time()).await?;
            announce(conn, &stamp, tenant, EventKind::EvidenceCreated, &item).await?;
            Ok(item)
        })
        .await
    }

    /// Records an operation on the tenant's item; `None` when there is no
    /// such item. After `SEAL` only `VIEW` is recorded (else a conflict);
    /// `SEAL` announces `evidence.sealed`, `ANNOTATE`, `TRANSFER_CUSTODY`
    /// and `EXPORT` announce `evidence.operation_recorded`; a `VIEW`, like
    /// any read, announces nothing.
    pub async fn record_evidence_operation(
        &self,
        stamp: WriteStamp,
        tenant: &TenantId,
        id: &EvidenceId,
        operation: RecordOperation,
        actor: EvidenceActor<'_>,
        sealer: &ProvenanceSealer,
    ) -> Result<Option<EvidenceRecord>, StoreError> {
        operation.check().map_err(StoreError::Invalid)?;
        let row = evidence_items::table.tenant_row(tenant, id.as_str());
        self.transaction(async |conn| {
            let Some(item): Option<EvidenceRecord> = find_row(conn, row.for_update()).await? else {
                return Ok(None);
            };
            operation.operation.check(item.sealed_at.is_some()).map_err(|refused| match refused {
                OperationRefused::Sealed => StoreError::Conflict(format!("evidence {id} is sealed: {refused}")),
                OperationRefused::Create => {
                    let mut errors = FieldErrors::default();
                    errors.push("operation", refused.to_string());
                    StoreError::Invalid(errors)
                }
            })?;
            let stamp = stamp.take(conn, tenant).await?;
            let item = append_at(conn, &item, actor, &operation, sealer, stamp.time()).await?;
            let kind = match operation.operation {
                EvidenceOperation::View | EvidenceOperation::Create => None,
                EvidenceOperation::Seal => Some(EventKind::EvidenceSealed),
                _ => Some(EventKind::EvidenceOperationRecorded),
            };
            if let Some(kind) = kind {
                announce(conn, &stamp, tenant, kind, &item).await?;
            }
            Ok(Some(item))
        })
        .await
    }

    /// Reads the tenant's item, the read appended to its transcript as a
    /// `VIEW` in the same transaction; `None` (and nothing appended) when
    /// there is no such item. Never under a sandbox scenario, whose reads
    /// record nothing (they take no write number).
    pub async fn view_evidence(
        &self,
        tenant: &TenantId,
        id: &EvidenceId,
        actor: EvidenceActor<'_>,
        details: &str,
        sealer: &ProvenanceSealer,
    ) -> Result<Option<EvidenceRecord>, StoreError> {
        let view =
            RecordOperation { operation: EvidenceOperation::View, details: Some(details.to_owned()), custodian: None };
        self.record_evidence_operation(WriteStamp::Now, tenant, id, view, actor, sealer).await
    }

    /// The tenant's item's entries from `from_sequence` on, oldest first,
    /// at most `limit`; `None` when there is no such item. Not itself
    /// appended: the caller read the item with [`Store::view_evidence`].
    pub async fn evidence_entries(
        &self,
        tenant: &TenantId,
        id: &EvidenceId,
        from_sequence: i64,
        limit: i64,
    ) -> Result<Vec<EntryRecord>, StoreError> {
        Ok(evidence_entries::table
            .filter(evidence_entries::tenant_id.eq(tenant.as_str()))
            .filter(evidence_entries::evidence_id.eq(id.as_str()))
            .filter(evidence_entries::sequence.ge(from_sequence))
            .order(evidence_entries::sequence.asc())
            .limit(limit)
            .select(EntryRecord::as_select())
            .load(&mut *self.conn().await?)
            .await?)
    }

    /// The tenant's item, not itself read for anyone (nothing appended):
    /// for checks before a read.
    pub async fn peek_evidence(
        &self,
        tenant: &TenantId,
        id: &EvidenceId,
    ) -> Result<Option<EvidenceRecord>, StoreError> {
        find_row(&mut *self.conn().await?, evidence_items::table.tenant_row(tenant, id.as_str())).await
    }

    /// The tenant's item's whole transcript, oldest first; `None` when
    /// there is no such item. Not itself appended: a caller that reads the
    /// item for someone views it first ([`Store::view_evidence`]).
    pub async fn evidence_transcript(
        &self,
        tenant: &TenantId,
        id: &EvidenceId,
    ) -> Result<Option<(EvidenceRecord, Vec<EntryRecord>)>, StoreError> {
        let Some(item) = self.peek_evidence(tenant, id).await? else { return Ok(None) };
        let entries = self.evidence_entries(tenant, id, 1, i64::MAX).await?;
        Ok(Some((item, entries)))
    }

    /// Retires the tenant's current tree-head key (kept, so the heads it
    /// signed stay verifiable) and makes a new one of the same algorithm
    /// current; its id.
    pub async fn rotate_provenance_key(
        &self,
        tenant: &TenantId,
        sealer: &ProvenanceSealer,
    ) -> Result<String, StoreError> {
        self.transaction(async |conn| {
            let algorithm = stored_current_key(conn, tenant).await?.map_or(Algorithm::HmacSha256, |k| k.algorithm);
            replace_current_key(conn, tenant, algorithm, sealer).await
        })
        .await
    }

    /// Signs the tenant's tree heads from now on with `algorithm`: unless
    /// its current key is of that algorithm already, retires it (kept, so
    /// the heads it signed stay verifiable) and makes a new key of
    /// `algorithm` current. The current key's id, and whether it is new.
    pub async fn set_provenance_algorithm(
        &self,
        tenant: &TenantId,
        algorithm: Algorithm,
        sealer: &ProvenanceSealer,
    ) -> Result<(String, bool), StoreError> {
        self.transaction(async |conn| match stored_current_key(conn, tenant).await? {
            Some(current) if current.algorithm == algorithm => Ok((current.id, false)),
            _ => Ok((replace_current_key(conn, tenant, algorithm, sealer).await?, true)),
        })
        .await
    }

    /// Every tree-head key of the tenant, current and retired, sealed,
    /// oldest first.
    pub async fn stored_provenance_keys(&self, tenant: &TenantId) -> Result<Vec<StoredProvenanceKey>, StoreError> {
        Ok(provenance_keys::table
            .filter(provenance_keys::tenant_id.eq(tenant.as_str()))
            .order(provenance_keys::created_at.asc())
            .select(StoredProvenanceKey::as_select())
            .load(&mut *self.conn().await?)
            .await?)
    }

    /// The keys that verify the tenant's tree heads, current and retired,
    /// by id.
    pub async fn provenance_keys(
        &self,
        tenant: &TenantId,
        sealer: &ProvenanceSealer,
    ) -> Result<Vec<(String, VerifyKey)>, StoreError> {
        let stored = self.stored_provenance_keys(tenant).await?;
        stored.into_iter().map(|k| Ok((k.id.clone(), k.verify_key(sealer)?))).collect()
    }

    /// The tenant's ML-DSA-65 public keys, current and retired, oldest
    /// first, by id: what `/.well-known/provenance-keys/ml-dsa-65`
    /// publishes. Nothing is unsealed.
    pub async fn ml_dsa_public_keys(&self, tenant: &TenantId) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let keys: Vec<(String, Option<Vec<u8>>)> = provenance_keys::table
            .filter(provenance_keys::tenant_id.eq(tenant.as_str()))
            .filter(provenance_keys::algorithm.eq(Algorithm::MlDsa65.as_str()))
            .order(provenance_keys::created_at.asc())
            .select((provenance_keys::id, provenance_keys::public_key))
            .load(&mut *self.conn().await?)
            .await?;
        Ok(keys.into_iter().filter_map(|(id, public)| Some((id, public?))).collect())
    }
}
