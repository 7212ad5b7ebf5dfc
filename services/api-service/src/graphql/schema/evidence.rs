//! Evidence items and their custody transcripts: the objects, the inputs,
//! and what the resolvers do with them. Every read of an item appends a
//! `VIEW` to its transcript, named by the GraphQL operation that read it.

use argus_domain::evidence::{NewEvidence, RecordOperation};
use argus_store::domain::{EntryRecord, EvidenceActor, EvidenceRecord};
use argus_types::EvidenceId;
use chrono::{DateTime, Utc};
use juniper::{GraphQLInputObject, ID, graphql_object};

use super::*;

/// Most entries one `transcript` field lists.
const MAX_ENTRIES: i32 = 1000;
/// The largest size a GraphQL Float carries exactly (2^53).
const MAX_EXACT_SIZE: f64 = 9_007_199_254_740_992.0;

graphql_mirror_enum!(EvidenceOperation { Create, View, Annotate, TransferCustody, Export, Seal });

#[derive(Debug, GraphQLInputObject)]
pub struct CreateEvidenceInput {
    incident_id: Option<ID>,
    case_id: Option<ID>,
    name: String,
    /// `type/subtype`, such as `video/mp4`.
    media_type: String,
    /// The content's size in bytes: a whole number (a Float, since content
    /// outgrows GraphQL's 32-bit Int).
    size_bytes: f64,
    /// Lowercase hex SHA-256 of the content.
    sha256: String,
}

#[derive(Debug, GraphQLInputObject)]
pub struct RecordEvidenceOperationInput {
    /// Any operation but `CREATE`; after `SEAL`, only `VIEW`.
    operation: EvidenceOperation,
    details: Option<String>,
    /// Who holds the item after the operation; `TRANSFER_CUSTODY` needs it.
    custodian: Option<String>,
}

/// An evidence item: the digest of content the integrator keeps, and the
/// transcript of every operation on it (an RFC 9162 Merkle log).
pub struct Evidence(pub(super) EvidenceRecord);

impl From<EvidenceRecord> for Evidence {
    fn from(r: EvidenceRecord) -> Self {
        Self(r)
    }
}

fn int(value: i64) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

#[graphql_object(context = Ctx)]
impl Evidence {
    fn id(&self) -> ID {
        ID::new(self.0.id.as_str())
    }
    fn incident_id(&self) -> Option<ID> {
        self.0.incident_id.as_ref().map(|id| ID::new(id.as_str()))
    }
    fn case_id(&self) -> Option<ID> {
        self.0.case_id.as_ref().map(|id| ID::new(id.as_str()))
    }
    fn name(&self) -> &str {
        &self.0.name
    }
    fn media_type(&self) -> &str {
        &self.0.media_type
    }
    /// The content's size in bytes.
    fn size_bytes(&self) -> f64 {
        // Stored sizes were checked to be at most 2^53 on the way in.
        self.0.size_bytes as f64
    }
    fn sha256(&self) -> &str {
        &self.0.sha256
    }
    /// Who created it: the subject of the token that did.
    fn created_by(&self) -> &str {
        &self.0.created_by
    }
    fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When it was sealed; after that only `VIEW` is recorded.
    fn sealed_at(&self) -> Option<DateTime<Utc>> {
        self.0.sealed_at
    }
    /// How many entries the transcript holds (its Merkle tree's size).
    fn transcript_size(&self) -> i32 {
        int(self.0.transcript_size)
    }
    /// The transcript tree's root (hex), as of the last entry.
    fn tree_root(&self) -> Option<String> {
        self.0.tree_root.as_deref().map(argus_crypto::hex)
    }
    /// The entries from `fromSequence` (default 1) on, oldest first, at
    /// most `first` (default and most 1000).
    async fn transcript(
        &self,
        #[graphql(context)] ctx: &Ctx,
        from_sequence: Option<i32>,
        first: Option<i32>,
    ) -> GqlResult<Option<Vec<EvidenceEntry>>> {
        let first = first.unwrap_or(MAX_ENTRIES);
        if !(1..=MAX_ENTRIES).contains(&first) {
            return Err(GqlError::new("BAD_USER_INPUT", format!("`first` must be between 1 and {MAX_ENTRIES}")));
        }
        let entries = ctx
            .store
            .evidence_entries(ctx.tenant(), &self.0.id, from_sequence.unwrap_or(1).into(), first.into())
            .await?;
        Ok(Some(entries.into_iter().map(EvidenceEntry).collect()))
    }
}

/// One transcript entry: what was done to the item, by whom, when, and its
/// place in the Merkle log.
pub struct EvidenceEntry(EntryRecord);

#[graphql_object(context = Ctx)]
impl EvidenceEntry {
    /// 1 for the first entry; the tree's size once this entry was in.
    fn sequence(&self) -> i32 {
        int(self.0.sequence)
    }
    fn operation(&self) -> EvidenceOperation {
        self.0.operation.into()
    }
    /// The subject of the token that performed it.
    fn actor(&self) -> &str {
        &self.0.actor
    }
    fn client_id(&self) -> &str {
        &self.0.client_id
    }
    fn recorded_at(&self) -> DateTime<Utc> {
        self.0.recorded_at
    }
    /// The item's content SHA-256 at the time.
    fn content_sha256(&self) -> &str {
        &self.0.content_sha256
    }
    fn details(&self) -> Option<&str> {
        self.0.details.as_deref()
    }
    fn custodian(&self) -> Option<&str> {
        self.0.custodian.as_deref()
    }
    /// The previous entry's leaf hash (hex); none for the first.
    fn previous_hash(&self) -> Option<String> {
        self.0.previous_hash.as_deref().map(argus_crypto::hex)
    }
    /// SHA-256(0x00 || the entry's bytes), hex.
    fn leaf_hash(&self) -> String {
        argus_crypto::hex(&self.0.leaf_hash)
    }
    /// The tree's root (hex) once this entry was in.
    fn tree_root(&self) -> String {
        argus_crypto::hex(&self.0.tree_root)
    }
}

impl Ctx {
    fn evidence_actor(&self) -> EvidenceActor<'_> {
        EvidenceActor { subject: &self.principal.subject, client_id: &self.principal.client_id }
    }
}

pub(super) async fn create(ctx: &Ctx, input: CreateEvidenceInput) -> GqlResult<Option<Evidence>> {
    let size = input.size_bytes;
    if !(size.is_finite() && size.fract() == 0.0 && (0.0..=MAX_EXACT_SIZE).contains(&size)) {
        return Err(GqlError::new("BAD_USER_INPUT", "`sizeBytes` must be a whole number from 0 to 2^53"));
    }
    let new = NewEvidence {
        incident_id: input.incident_id.as_ref().map(|id| parse_id(id, "incident")).transpose()?,
        case_id: input.case_id.as_ref().map(|id| parse_id(id, "case")).transpose()?,
        name: input.name,
        media_type: input.media_type,
        // Whole and within 2^53, checked above: exact.
        size_bytes: size as i64,
        sha256: input.sha256,
    };
    Ok(Some(Evidence(
        ctx.store
            .create_evidence(ctx.principal.write_stamp(), ctx.tenant(), new, ctx.evidence_actor(), &ctx.provenance)
            .await?,
    )))
}

pub(super) async fn record(ctx: &Ctx, id: &ID, input: RecordEvidenceOperationInput) -> GqlResult<Option<Evidence>> {
    let id: EvidenceId = parse_id(id, "evidence")?;
    let operation =
        RecordOperation { operation: input.operation.into(), details: input.details, custodian: input.custodian };
    found(
        ctx.store
            .record_evidence_operation(
                ctx.principal.write_stamp(),
                ctx.tenant(),
                &id,
                operation,
                ctx.evidence_actor(),
                &ctx.provenance,
            )
            .await?,
        &id,
    )
}

pub(super) async fn read(ctx: &Ctx, id: &ID) -> GqlResult<Option<Evidence>> {
    let id: EvidenceId = parse_id(id, "evidence")?;
    // In a sandbox scenario a read is not recorded: only writes change a
    // scenario (each taking its number), so a read answers the same until
    // the next write.
    if ctx.principal.scenario.is_some() {
        return found(ctx.store.peek_evidence(ctx.tenant(), &id).await?, &id);
    }
    let route = ctx.operation.access_route();
    found(ctx.store.view_evidence(ctx.tenant(), &id, ctx.evidence_actor(), &route, &ctx.provenance).await?, &id)
}
