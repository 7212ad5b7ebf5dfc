//! Evidence and its provenance transcript through the shipped
//! evidence-custody bundle: create, record, read (each read a VIEW),
//! nothing but VIEW after SEAL, the transcript as an RFC 9162 Merkle log,
//! bad input, tenant isolation, scopes, events.

use argus_provenance::{Algorithm, merkle};
use argus_store::WriteStamp;
use argus_store::domain::NewIncident;
use argus_types::{EvidenceId, IncidentId, TenantId};
use serde_json::{Value, json};

use crate::helpers::{Stack, TestClient, drain_outbox, op};

pub(crate) const BUNDLE: &str = "evidence-custody";
const CONTENT_SHA256: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

/// An app of `tenant` (a new one for `None`) holding `scopes`, granted the
/// bundle, and its token.
pub(crate) struct Caller {
    client: TestClient,
    token: String,
}

impl Caller {
    pub(crate) async fn new(stack: &Stack, tenant: Option<&TenantId>, scopes: &[&str]) -> Self {
        let (client, token) = stack.granted_client(tenant, scopes, BUNDLE).await;
        Self { client, token }
    }

    pub(crate) fn tenant(&self) -> &TenantId {
        &self.client.tenant
    }

    pub(crate) fn client_id(&self) -> &str {
        &self.client.client_id
    }

    /// The answer to the bundle's operation `name` with `variables`.
    pub(crate) async fn call(
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
    stack.store.create_incident(WriteStamp::Now, tenant, new).await.unwrap().id
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

/// `GET`/`POST` below `/v1/evidence/{id}/provenance`, with `caller`'s token and tenant.
pub(crate) fn rest(
    stack: &Stack,
    caller: &Caller,
    method: reqwest::Method,
    id: &str,
    rest: &str,
) -> reqwest::RequestBuilder {
    stack.request(method, &format!("/v1/evidence/{id}/provenance{rest}"), &caller.token, caller.tenant())
}

/// An item of a new tenant whose tree heads are signed with `algorithm`,
/// with a few operations on it, its writer, and its id.
pub(crate) async fn item_with_history(
    stack: &Stack,
    ops: &[argus_store::bundles::BundleOperation],
    algorithm: Algorithm,
) -> (Caller, String) {
    let writer = Caller::new(stack, None, &["evidence:write", "evidence:verify"]).await;
    stack.store.set_provenance_algorithm(writer.tenant(), algorithm, &sealer()).await.unwrap();
    let incident = incident(stack, writer.tenant()).await;
    let created = writer.call(stack, ops, "CreateEvidence", json!({ "input": evidence_input(&incident) })).await;
    let id = created["data"]["createEvidence"]["id"].as_str().unwrap().to_owned();
    for (operation, custodian) in [("ANNOTATE", None), ("TRANSFER_CUSTODY", Some("Lab 3")), ("EXPORT", None)] {
        let input = json!({ "operation": operation, "custodian": custodian, "details": "by the test" });
        let body = writer.call(stack, ops, "RecordEvidenceOperation", json!({ "id": id, "input": input })).await;
        assert!(body["errors"].is_null(), "{body}");
    }
    (writer, id)
}

/// The api-service's provenance sealer.
pub(crate) fn sealer() -> argus_crypto::provenance::ProvenanceSealer {
    argus_crypto::provenance::ProvenanceSealer::new(crate::helpers::PEPPER.as_bytes())
}

pub(crate) async fn verify(stack: &Stack, caller: &Caller, id: &str, body: Value) -> Value {
    let r = rest(stack, caller, reqwest::Method::POST, id, "/verify").json(&body).send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// A failure a tampering must produce: its kind and entry.
type Expected<'a> = (&'a str, Option<i64>);

/// The failures' (kind, sequence) pairs.
pub(crate) fn failures(verification: &Value) -> Vec<(String, Option<i64>)> {
    verification["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["kind"].as_str().unwrap().to_owned(), f["sequence"].as_i64()))
        .collect()
}

#[tokio::test]
async fn the_transcript_is_served_with_signed_heads_and_proofs_and_each_read_is_recorded() {
    let stack = Stack::start().await;
    let ops = stack.load_shipped_bundle(BUNDLE).await;
    let (writer, id) = item_with_history(&stack, &ops, Algorithm::HmacSha256).await;

    let r = rest(&stack, &writer, reqwest::Method::GET, &id, "?since_size=2").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["evidence"]["id"], id.as_str());
    let entries = body["transcript"]["entries"].as_array().unwrap();
    // CREATE, three operations, and this read.
    assert_eq!(entries.len(), 5);
    assert_eq!(entries[4]["operation"], "VIEW");
    assert_eq!(entries[4]["details"], "GET /v1/evidence/{evidence_id}/provenance");
    let head = &body["transcript"]["tree_head"];
    assert_eq!(head["tree_size"], 5);
    assert_eq!(head["algorithm"], "hmac-sha256");
    assert!(head["key_id"].as_str().unwrap().starts_with("pvk_"));
    let root = merkle::parse_hash(head["root_hash"].as_str().unwrap()).unwrap();
    let hashes = |v: &Value| -> Vec<merkle::Hash> {
        v.as_array().unwrap().iter().map(|h| merkle::parse_hash(h.as_str().unwrap()).unwrap()).collect()
    };
    for (i, entry) in entries.iter().enumerate() {
        let leaf = merkle::parse_hash(entry["leaf_hash"].as_str().unwrap()).unwrap();
        assert!(merkle::verify_inclusion(i as u64, 5, &leaf, &hashes(&entry["inclusion_proof"]), &root), "entry {i}");
        assert_eq!(entry["tree_head"]["tree_size"], i + 1);
    }
    let consistency = &body["consistency_proof"];
    assert_eq!((consistency["from_size"].as_i64(), consistency["to_size"].as_i64()), (Some(2), Some(5)));
    let from_root = merkle::parse_hash(consistency["from_root"].as_str().unwrap()).unwrap();
    assert_eq!(entries[1]["tree_head"]["root_hash"], consistency["from_root"]);
    assert!(merkle::verify_consistency(2, 5, &from_root, &root, &hashes(&consistency["proof"])));

    // Bad sizes, unknown and malformed ids: refused, nothing appended.
    for bad in ["?since_size=0", "?since_size=99", "?since_size=-1", "?since_size=x"] {
        let r = rest(&stack, &writer, reqwest::Method::GET, &id, bad).send().await.unwrap();
        assert_eq!(r.status(), 400, "{bad}");
    }
    for missing in [EvidenceId::generate().to_string(), "evd_nope".into()] {
        let r = rest(&stack, &writer, reqwest::Method::GET, &missing, "").send().await.unwrap();
        assert_eq!(r.status(), 404, "{missing}");
    }
    let evidence_id: EvidenceId = id.parse().unwrap();
    let size = async || stack.store.evidence_entries(writer.tenant(), &evidence_id, 1, 100).await.unwrap().len();
    assert_eq!(size().await, 5);

    // Another tenant: not found, nothing appended. Scopes: verify alone does not read.
    let theirs = Caller::new(&stack, None, &["evidence:read", "evidence:verify"]).await;
    let r = rest(&stack, &theirs, reqwest::Method::GET, &id, "").send().await.unwrap();
    assert_eq!(r.status(), 404);
    let r = rest(&stack, &theirs, reqwest::Method::POST, &id, "/verify").send().await.unwrap();
    assert_eq!(r.status(), 404);
    let verifier = Caller::new(&stack, Some(writer.tenant()), &["evidence:verify"]).await;
    let r = rest(&stack, &verifier, reqwest::Method::GET, &id, "").send().await.unwrap();
    assert_eq!(r.status(), 403);
    let reader = Caller::new(&stack, Some(writer.tenant()), &["evidence:read"]).await;
    let r = rest(&stack, &reader, reqwest::Method::POST, &id, "/verify").send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(size().await, 5);

    // HMAC keys are never published.
    let r = stack.http.get(format!("{}/.well-known/provenance-keys/hmac-sha256", stack.api)).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let problem: Value = r.json().await.unwrap();
    assert!(problem["detail"].as_str().unwrap().contains("never published"), "{problem}");
}

#[tokio::test]
async fn every_kind_of_tampering_is_named_server_side_hmac() {
    every_kind_of_tampering_is_named(Algorithm::HmacSha256).await;
}

#[tokio::test]
async fn every_kind_of_tampering_is_named_server_side_ml_dsa() {
    every_kind_of_tampering_is_named(Algorithm::MlDsa65).await;
}

async fn every_kind_of_tampering_is_named(algorithm: Algorithm) {
    let stack = Stack::start().await;
    let ops = stack.load_shipped_bundle(BUNDLE).await;
    let (writer, id) = item_with_history(&stack, &ops, algorithm).await;

    // The stored transcript, and the one GET answered posted back as is, verify.
    let stored = verify(&stack, &writer, &id, json!({})).await;
    assert_eq!(stored["valid"], true, "{stored}");
    assert!(stored["checks"].as_array().unwrap().iter().all(|c| c["passed"] == true), "{stored}");
    let r = rest(&stack, &writer, reqwest::Method::POST, &id, "/verify").send().await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["valid"], true, "no body: the stored transcript");
    let served: Value =
        rest(&stack, &writer, reqwest::Method::GET, &id, "").send().await.unwrap().json().await.unwrap();
    let as_served = verify(&stack, &writer, &id, served.clone()).await;
    assert_eq!(as_served["valid"], true, "{as_served}");
    let size = as_served["tree_size"].as_i64().unwrap();
    assert_eq!(size, 5);
    assert_eq!(served["transcript"]["tree_head"]["algorithm"], algorithm.as_str());

    let tampered = |change: &dyn Fn(&mut Value)| {
        let mut body = served.clone();
        change(&mut body["transcript"]);
        body
    };
    let kinds = |v: &Value| failures(v).into_iter().map(|(k, _)| k).collect::<Vec<_>>();
    let cases: Vec<(&str, Value, Expected)> = vec![
        ("changed", tampered(&|t| t["entries"][2]["details"] = json!("nothing happened")), ("changed_entry", Some(3))),
        (
            "dropped",
            tampered(&|t| {
                t["entries"].as_array_mut().unwrap().remove(1);
            }),
            ("dropped_entry", Some(2)),
        ),
        (
            "inserted",
            tampered(&|t| {
                let mut forged = t["entries"][3].clone();
                forged["sequence"] = json!(6);
                forged["details"] = json!("forged");
                t["entries"].as_array_mut().unwrap().push(forged);
            }),
            ("inserted_entry", Some(6)),
        ),
        ("reordered", tampered(&|t| t["entries"].as_array_mut().unwrap().swap(1, 2)), ("reordered_entry", Some(2))),
        (
            "one bit of a signature",
            tampered(&|t| {
                let signature = t["entries"][2]["tree_head"]["signature"].as_str().unwrap();
                let flipped = if signature.ends_with('0') { "1" } else { "0" };
                t["entries"][2]["tree_head"]["signature"] =
                    json!(format!("{}{flipped}", &signature[..signature.len() - 1]));
            }),
            ("bad_signature", Some(3)),
        ),
        ("wrong root", tampered(&|t| t["tree_head"]["root_hash"] = json!("00".repeat(32))), ("wrong_root", Some(size))),
        (
            "bad signature",
            tampered(&|t| t["entries"][1]["tree_head"]["signature"] = json!("ab".repeat(32))),
            ("bad_signature", Some(2)),
        ),
        (
            "unknown key",
            tampered(&|t| t["tree_head"]["key_id"] = json!(format!("pvk_{}", "0".repeat(26)))),
            ("unknown_key", Some(size)),
        ),
    ];
    for (what, body, expected) in cases {
        let answer = verify(&stack, &writer, &id, body).await;
        assert_eq!(answer["valid"], false, "{what}: {answer}");
        let found = failures(&answer);
        assert!(found.contains(&(expected.0.to_owned(), expected.1)), "{what}: {found:?}");
        assert!(answer["checks"].as_array().unwrap().iter().any(|c| c["passed"] == false), "{what}");
        assert!(!kinds(&answer).is_empty());
    }

    // Consistency with a head held earlier: the real one holds, another breaks.
    let earlier = served["transcript"]["entries"][1]["tree_head"].clone();
    let holds = verify(&stack, &writer, &id, json!({ "earlier_tree_head": earlier })).await;
    assert_eq!(holds["valid"], true, "{holds}");
    let forged = json!({ "tree_size": 2, "root_hash": "11".repeat(32) });
    let broken = verify(&stack, &writer, &id, json!({ "earlier_tree_head": forged })).await;
    assert_eq!(failures(&broken), [("broken_consistency".to_owned(), None)], "{broken}");

    // Not a transcript: 400.
    let r =
        rest(&stack, &writer, reqwest::Method::POST, &id, "/verify").body("{\"transcript\": 7}").send().await.unwrap();
    assert_eq!(r.status(), 400);
    let hostile = tampered(&|t| {
        t["entries"][0]["sequence"] = json!(i64::MIN);
        t["entries"][1]["sequence"] = json!(i64::MAX);
        t["tree_head"]["tree_size"] = json!(i64::MIN);
    });
    let answer = verify(&stack, &writer, &id, hostile).await;
    assert_eq!(answer["valid"], false, "hostile numbers get an answer");
    let padding = "x".repeat(300 << 10);
    let huge = json!({ "transcript": { "evidence_id": id, "entries": [], "tree_head": null, "padding": padding } });
    let r = rest(&stack, &writer, reqwest::Method::POST, &id, "/verify").json(&huge).send().await.unwrap();
    assert_eq!(r.status(), 413, "over 256 KiB");

    // The OpenAPI entries: scopes, and the verify example as pasted (the
    // stored transcript of an item: `{}`).
    let doc: Value =
        stack.http.get(format!("{}/.well-known/openapi.json", stack.api)).send().await.unwrap().json().await.unwrap();
    let get = &doc["paths"]["/v1/evidence/{evidence_id}/provenance"]["get"];
    assert_eq!(get["security"], json!([{"bearer": ["evidence:read"]}]));
    let post = &doc["paths"]["/v1/evidence/{evidence_id}/provenance/verify"]["post"];
    assert_eq!(post["security"], json!([{"bearer": ["evidence:verify"]}]));
    let example = post["requestBody"]["content"]["application/json"]["example"].clone();
    assert_eq!(verify(&stack, &writer, &id, example).await["valid"], true);
}

#[tokio::test]
async fn heads_signed_before_a_key_rotation_still_verify() {
    let stack = Stack::start().await;
    let ops = stack.load_shipped_bundle(BUNDLE).await;
    let (writer, id) = item_with_history(&stack, &ops, Algorithm::HmacSha256).await;
    let sealer = sealer();
    let before = stack.store.evidence_entries(writer.tenant(), &id.parse().unwrap(), 1, 100).await.unwrap();
    let old_key = before[0].key_id.clone();
    let new_key = stack.store.rotate_provenance_key(writer.tenant(), &sealer).await.unwrap();
    assert_ne!(new_key, old_key);

    let input = json!({ "operation": "SEAL" });
    let sealed = writer.call(&stack, &ops, "RecordEvidenceOperation", json!({ "id": id, "input": input })).await;
    assert!(sealed["errors"].is_null(), "{sealed}");
    let after = stack.store.evidence_entries(writer.tenant(), &id.parse().unwrap(), 1, 100).await.unwrap();
    assert!(after[..4].iter().all(|e| e.key_id == old_key));
    assert_eq!(after[4].key_id, new_key);
    let answer = verify(&stack, &writer, &id, json!({})).await;
    assert_eq!(answer["valid"], true, "{answer}");

    // The tenant opts in to ML-DSA-65: later heads are signed with it, the
    // HMAC heads before stay verifiable, in one transcript.
    let (ml_dsa, changed) =
        stack.store.set_provenance_algorithm(writer.tenant(), Algorithm::MlDsa65, &sealer).await.unwrap();
    assert!(changed);
    let read = writer.call(&stack, &ops, "EvidenceById", json!({ "id": id })).await;
    assert!(read["errors"].is_null(), "{read}");
    let after = stack.store.evidence_entries(writer.tenant(), &id.parse().unwrap(), 1, 100).await.unwrap();
    assert_eq!((after[5].key_id.as_str(), after[5].algorithm), (ml_dsa.as_str(), Algorithm::MlDsa65));
    assert_eq!(after[4].algorithm, Algorithm::HmacSha256);
    let answer = verify(&stack, &writer, &id, json!({})).await;
    assert_eq!(answer["valid"], true, "{answer}");
}
