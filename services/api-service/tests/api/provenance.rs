//! Evidence and its provenance transcript through the shipped
//! evidence-custody bundle: create, record, read (each read a VIEW),
//! nothing but VIEW after SEAL, the transcript as an RFC 9162 Merkle log,
//! bad input, tenant isolation, scopes, events.

use argus_crypto::merkle;
use argus_store::domain::NewIncident;
use argus_types::{EvidenceId, IncidentId, TenantId};
use serde_json::{Value, json};

use crate::helpers::{Stack, TestClient, drain_outbox, op};

const BUNDLE: &str = "evidence-custody";
const CONTENT_SHA256: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

/// An app of `tenant` (a new one for `None`) holding `scopes`, granted the
/// bundle, and its token.
struct Caller {
    client: TestClient,
    token: String,
}

impl Caller {
    async fn new(stack: &Stack, tenant: Option<&TenantId>, scopes: &[&str]) -> Self {
        let client = stack.client(tenant, scopes).await;
        stack.grant(&client, BUNDLE).await;
        let token = stack.cc_token(&client, None).await;
        Self { client, token }
    }

    fn tenant(&self) -> &TenantId {
        &self.client.tenant
    }

    /// The answer to the bundle's operation `name` with `variables`.
    async fn call(
        &self,
        stack: &Stack,
        ops: &[argus_store::bundles::BundleOperation],
        name: &str,
        variables: Value,
    ) -> Value {
        let body = json!({ "id": format!("sha256:{}", op(ops, name).sha256), "variables": variables });
        stack.graphql(&self.token, self.tenant().as_str(), body).await
    }
}

async fn incident(stack: &Stack, tenant: &TenantId) -> IncidentId {
    let new = NewIncident {
        title: "Break-in at the depot".into(),
        description: String::new(),
        severity: argus_domain::Severity::High,
        location: None,
        occurred_at: None,
        reporter: "usr_test".into(),
    };
    stack.store.create_incident(tenant, new).await.unwrap().id
}

fn evidence_input(incident: &IncidentId) -> Value {
    json!({
        "incidentId": incident.as_str(),
        "name": "bodycam-0042.mp4",
        "mediaType": "video/mp4",
        "sizeBytes": 5_000_000_000_u64,
        "sha256": CONTENT_SHA256,
    })
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"].as_str().unwrap_or_default()
}

/// The stored transcript checked as a Merkle log: every leaf is the hash
/// of its entry's bytes, each entry names the previous leaf, each entry's
/// root is the tree's over the leaves so far, and the last is the item's.
async fn assert_transcript_is_a_merkle_log(stack: &Stack, tenant: &TenantId, id: &EvidenceId) -> Vec<merkle::Hash> {
    let entries = stack.store.evidence_entries(tenant, id, 1, 10_000).await.unwrap();
    let mut leaves: Vec<merkle::Hash> = Vec::new();
    for (i, stored) in entries.iter().enumerate() {
        assert_eq!(stored.sequence, i as i64 + 1);
        let entry = stored.entry();
        assert_eq!(entry.previous_hash, leaves.last().map(|h| argus_crypto::hex(h)), "entry {}", stored.sequence);
        let leaf = merkle::leaf_hash(&entry.to_bytes());
        assert_eq!(stored.leaf_hash, leaf, "entry {}", stored.sequence);
        leaves.push(leaf);
        assert_eq!(stored.tree_root, merkle::root(&leaves), "root after entry {}", stored.sequence);
    }
    leaves
}

#[tokio::test]
async fn custody_is_recorded_as_a_merkle_log_and_nothing_but_view_follows_a_seal() {
    let stack = Stack::start().await;
    let ops = stack.load_shipped_bundle(BUNDLE).await;
    let writer = Caller::new(&stack, None, &["evidence:write"]).await;
    let tenant = writer.tenant().clone();
    let reader = Caller::new(&stack, Some(&tenant), &["evidence:read"]).await;
    let incident = incident(&stack, &tenant).await;
    drain_outbox(&stack).await;

    let created = writer.call(&stack, &ops, "CreateEvidence", json!({ "input": evidence_input(&incident) })).await;
    assert!(created["errors"].is_null(), "{created}");
    let item = &created["data"]["createEvidence"];
    let id: EvidenceId = item["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(item["incidentId"], incident.as_str());
    assert_eq!(item["sizeBytes"], 5_000_000_000.0);
    assert_eq!(item["sha256"], CONTENT_SHA256);
    assert_eq!(item["createdBy"], writer.client.client_id.as_str());
    assert_eq!(item["transcriptSize"], 1);

    let record = async |operation: &str, custodian: Option<&str>| {
        let input =
            json!({ "operation": operation, "details": format!("{operation} by the test"), "custodian": custodian });
        writer.call(&stack, &ops, "RecordEvidenceOperation", json!({ "id": id.as_str(), "input": input })).await
    };
    for (operation, custodian) in
        [("ANNOTATE", None), ("TRANSFER_CUSTODY", Some("Evidence store, Depot B")), ("EXPORT", None)]
    {
        let body = record(operation, custodian).await;
        assert!(body["errors"].is_null(), "{operation}: {body}");
    }
    let sealed = record("SEAL", None).await;
    assert!(sealed["errors"].is_null(), "{sealed}");
    assert_eq!(sealed["data"]["recordEvidenceOperation"]["transcriptSize"], 5);
    assert!(sealed["data"]["recordEvidenceOperation"]["sealedAt"].is_string());
    let root_when_sealed = sealed["data"]["recordEvidenceOperation"]["treeRoot"].clone();

    // After SEAL: every operation but VIEW refused, nothing appended.
    for operation in ["ANNOTATE", "TRANSFER_CUSTODY", "EXPORT", "SEAL"] {
        let refused = record(operation, Some("someone")).await;
        assert_eq!(code(&refused), "CONFLICT", "{operation}: {refused}");
    }
    assert!(record("VIEW", None).await["errors"].is_null());

    // A read through the bundle appends a VIEW named by the operation, in
    // the transcript it answers with.
    let read = reader.call(&stack, &ops, "EvidenceById", json!({ "id": id.as_str() })).await;
    assert!(read["errors"].is_null(), "{read}");
    let evidence = &read["data"]["evidence"];
    assert_eq!(evidence["transcriptSize"], 7);
    let transcript = evidence["transcript"].as_array().unwrap();
    let operations: Vec<&str> = transcript.iter().map(|e| e["operation"].as_str().unwrap()).collect();
    assert_eq!(operations, ["CREATE", "ANNOTATE", "TRANSFER_CUSTODY", "EXPORT", "SEAL", "VIEW", "VIEW"]);
    let last = &transcript[6];
    assert_eq!(last["details"], "graphql EvidenceById");
    assert_eq!(
        (last["actor"].as_str(), last["clientId"].as_str()),
        (Some(reader.client.client_id.as_str()), Some(reader.client.client_id.as_str()))
    );
    assert_eq!(transcript[2]["custodian"], "Evidence store, Depot B");
    assert!(transcript.iter().all(|e| e["contentSha256"] == CONTENT_SHA256));
    assert_eq!(transcript[4]["treeRoot"], root_when_sealed);
    assert_eq!(evidence["treeRoot"], last["treeRoot"]);

    // What the API answered is what the store's Merkle log holds.
    let leaves = assert_transcript_is_a_merkle_log(&stack, &tenant, &id).await;
    assert_eq!(leaves.len(), 7);
    for (entry, leaf) in transcript.iter().zip(&leaves) {
        assert_eq!(entry["leafHash"], argus_crypto::hex(leaf));
    }
    assert_eq!(evidence["treeRoot"], argus_crypto::hex(&merkle::root(&leaves)));
    // The log after the seal is an extension of the log at the seal.
    let proof = merkle::consistency_proof(&leaves, 5).unwrap();
    let at_seal = merkle::parse_hash(root_when_sealed.as_str().unwrap()).unwrap();
    assert!(merkle::verify_consistency(5, 7, &at_seal, &merkle::root(&leaves), &proof));

    // Paging the transcript reads, and appends, like any read.
    let page =
        reader.call(&stack, &ops, "EvidenceById", json!({ "id": id.as_str(), "fromSequence": 7, "first": 1 })).await;
    let page = page["data"]["evidence"]["transcript"].as_array().unwrap().clone();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0]["sequence"], 7);
    assert_eq!(assert_transcript_is_a_merkle_log(&stack, &tenant, &id).await.len(), 8);

    // Events: created, three operations, sealed; no VIEW announces.
    let kinds: Vec<String> = drain_outbox(&stack)
        .await
        .into_iter()
        .map(|(t, kind)| {
            assert_eq!(t, tenant.as_str());
            kind
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "evidence.created",
            "evidence.operation_recorded",
            "evidence.operation_recorded",
            "evidence.operation_recorded",
            "evidence.sealed"
        ]
    );
}

#[tokio::test]
async fn bad_input_is_refused_with_nothing_stored() {
    let stack = Stack::start().await;
    let ops = stack.load_shipped_bundle(BUNDLE).await;
    let writer = Caller::new(&stack, None, &["evidence:write"]).await;
    let tenant = writer.tenant().clone();
    let incident = incident(&stack, &tenant).await;
    let elsewhere = Caller::new(&stack, None, &["evidence:write"]).await;
    let their_incident = self::incident(&stack, elsewhere.tenant()).await;
    drain_outbox(&stack).await;

    let create = async |input: Value| writer.call(&stack, &ops, "CreateEvidence", json!({ "input": input })).await;
    let mut unattached = evidence_input(&incident);
    unattached.as_object_mut().unwrap().remove("incidentId");
    let mut bad_digest = evidence_input(&incident);
    bad_digest["sha256"] = json!(CONTENT_SHA256.to_uppercase());
    let mut bad_type = evidence_input(&incident);
    bad_type["mediaType"] = json!("video");
    let mut negative = evidence_input(&incident);
    negative["sizeBytes"] = json!(-1);
    let mut fractional = evidence_input(&incident);
    fractional["sizeBytes"] = json!(1.5);
    let mut malformed_id = evidence_input(&incident);
    malformed_id["incidentId"] = json!("inc_nope");
    for (what, input, says) in [
        ("no incident or case", unattached, "incidentId"),
        ("uppercase digest", bad_digest, "sha256"),
        ("media type", bad_type, "mediaType"),
        ("negative size", negative, "sizeBytes"),
        ("fractional size", fractional, "sizeBytes"),
        ("another tenant's incident", evidence_input(&their_incident), "incidentId"),
        ("malformed id", malformed_id, "inc_nope"),
    ] {
        let body = create(input).await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{what}: {body}");
        assert!(body["errors"][0]["message"].as_str().unwrap().contains(says), "{what}: {body}");
        assert!(body["data"]["createEvidence"].is_null());
    }
    assert!(drain_outbox(&stack).await.is_empty(), "nothing created, nothing announced");

    let created = create(evidence_input(&incident)).await;
    let id = created["data"]["createEvidence"]["id"].as_str().unwrap().to_owned();
    drain_outbox(&stack).await;
    let record = async |id: &str, input: Value| {
        writer.call(&stack, &ops, "RecordEvidenceOperation", json!({ "id": id, "input": input })).await
    };
    let refused = [
        ("a transfer to no one", record(&id, json!({ "operation": "TRANSFER_CUSTODY" })).await, "BAD_USER_INPUT"),
        ("a second CREATE", record(&id, json!({ "operation": "CREATE" })).await, "BAD_USER_INPUT"),
        ("an unknown operation", record(&id, json!({ "operation": "DELETE" })).await, ""),
        (
            "details too long",
            record(&id, json!({ "operation": "ANNOTATE", "details": "x".repeat(2001) })).await,
            "BAD_USER_INPUT",
        ),
        ("a malformed id", record("evd_nope", json!({ "operation": "ANNOTATE" })).await, "BAD_USER_INPUT"),
        (
            "an unknown item",
            record(EvidenceId::generate().as_str(), json!({ "operation": "ANNOTATE" })).await,
            "NOT_FOUND",
        ),
    ];
    for (what, body, want) in refused {
        assert!(!body["errors"].is_null(), "{what}: {body}");
        if !want.is_empty() {
            assert_eq!(code(&body), want, "{what}: {body}");
        }
    }
    let id: EvidenceId = id.parse().unwrap();
    assert_eq!(stack.store.evidence_entries(&tenant, &id, 1, 100).await.unwrap().len(), 1, "only CREATE");
    assert!(drain_outbox(&stack).await.is_empty());
}

#[tokio::test]
async fn another_tenant_and_a_missing_scope_see_and_change_nothing() {
    let stack = Stack::start().await;
    let ops = stack.load_shipped_bundle(BUNDLE).await;
    let writer = Caller::new(&stack, None, &["evidence:write"]).await;
    let tenant = writer.tenant().clone();
    let incident = incident(&stack, &tenant).await;
    let created = writer.call(&stack, &ops, "CreateEvidence", json!({ "input": evidence_input(&incident) })).await;
    let id = created["data"]["createEvidence"]["id"].as_str().unwrap().to_owned();
    let evidence_id: EvidenceId = id.parse().unwrap();
    let size = async || stack.store.evidence_entries(&tenant, &evidence_id, 1, 100).await.unwrap().len();

    // Another tenant's app, with every evidence scope: not found, nothing appended.
    let theirs = Caller::new(&stack, None, &["evidence:write", "evidence:read"]).await;
    let read = theirs.call(&stack, &ops, "EvidenceById", json!({ "id": id })).await;
    assert_eq!(code(&read), "NOT_FOUND", "{read}");
    let input = json!({ "operation": "SEAL" });
    let sealed = theirs.call(&stack, &ops, "RecordEvidenceOperation", json!({ "id": id, "input": input })).await;
    assert_eq!(code(&sealed), "NOT_FOUND", "{sealed}");
    assert_eq!(size().await, 1);

    // evidence:read reads but writes nothing; without it, no read either.
    let reader = Caller::new(&stack, Some(&tenant), &["evidence:read"]).await;
    let refused = reader.call(&stack, &ops, "RecordEvidenceOperation", json!({ "id": id, "input": input })).await;
    assert_eq!(code(&refused), "FORBIDDEN", "{refused}");
    let refused = reader.call(&stack, &ops, "CreateEvidence", json!({ "input": evidence_input(&incident) })).await;
    assert_eq!(code(&refused), "FORBIDDEN", "{refused}");
    let verifier = Caller::new(&stack, Some(&tenant), &["evidence:verify"]).await;
    let refused = verifier.call(&stack, &ops, "EvidenceById", json!({ "id": id })).await;
    assert_eq!(code(&refused), "FORBIDDEN", "{refused}");
    assert_eq!(size().await, 1);
    // evidence:write implies evidence:read.
    let read = writer.call(&stack, &ops, "EvidenceById", json!({ "id": id })).await;
    assert!(read["errors"].is_null(), "{read}");
    assert_eq!(size().await, 2);
}
