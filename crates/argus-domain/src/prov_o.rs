//! An evidence transcript as W3C PROV-O in JSON-LD, for
//! `GET /v1/evidence/{evidence_id}/provenance` with
//! `Accept: application/ld+json`: the item is a `prov:Entity`, each
//! operation a `prov:Activity` (`prov:startedAtTime`, `prov:used` the
//! item, `prov:wasAssociatedWith` its actor and app as `prov:Agent`s), and
//! each transcript entry a `prov:Entity` the activity generated
//! (`prov:wasGeneratedBy`) and derived from the entry before it
//! (`prov:wasDerivedFrom`: the hash chain), carrying its hashes, inclusion
//! proof and signed tree head. The `@context` is inline, so expanding the
//! document needs no network; Argus's own terms are under
//! `https://knogin.com/ns/provenance#`.

use serde_json::{Map, Value, json};

use argus_provenance::{Transcript, TreeHead};

/// The media type of the document.
pub const JSON_LD: &str = "application/ld+json";

/// What the document says of the item beside its transcript.
#[derive(Debug, Clone, Copy)]
pub struct ItemFacts<'a> {
    pub name: &'a str,
    pub media_type: &'a str,
    pub size_bytes: i64,
    /// Lowercase hex SHA-256 of the content.
    pub sha256: &'a str,
}

/// The inline context: PROV-O's terms, and Argus's for the hashes, proofs
/// and signed tree heads.
fn context() -> Value {
    let id = |iri: &str| json!({"@id": iri, "@type": "@id"});
    let typed = |iri: &str, datatype: &str| json!({"@id": iri, "@type": datatype});
    json!({
        "prov": "http://www.w3.org/ns/prov#",
        "xsd": "http://www.w3.org/2001/XMLSchema#",
        "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
        "argus": "https://knogin.com/ns/provenance#",
        "Entity": "prov:Entity",
        "Activity": "prov:Activity",
        "Agent": "prov:Agent",
        "SoftwareAgent": "prov:SoftwareAgent",
        "TranscriptEntry": "argus:TranscriptEntry",
        "TreeHead": "argus:TreeHead",
        "label": "rdfs:label",
        "startedAtTime": typed("prov:startedAtTime", "xsd:dateTime"),
        "used": id("prov:used"),
        "wasAssociatedWith": id("prov:wasAssociatedWith"),
        "wasGeneratedBy": id("prov:wasGeneratedBy"),
        "wasDerivedFrom": id("prov:wasDerivedFrom"),
        "mediaType": "argus:mediaType",
        "sizeBytes": typed("argus:sizeBytes", "xsd:integer"),
        "contentSha256": "argus:contentSha256",
        "operation": "argus:operation",
        "details": "argus:details",
        "custodian": "argus:custodian",
        "sequence": typed("argus:sequence", "xsd:integer"),
        "leafHash": "argus:leafHash",
        "previousHash": "argus:previousHash",
        "inclusionProof": {"@id": "argus:inclusionProof", "@container": "@list"},
        "treeHead": "argus:treeHead",
        "treeSize": typed("argus:treeSize", "xsd:integer"),
        "rootHash": "argus:rootHash",
        "timestamp": typed("argus:timestamp", "xsd:dateTime"),
        "algorithm": "argus:algorithm",
        "keyId": "argus:keyId",
        "signature": "argus:signature",
    })
}

fn tree_head(head: &TreeHead) -> Value {
    json!({
        "@type": "TreeHead",
        "treeSize": head.tree_size,
        "rootHash": head.root_hash,
        "timestamp": head.timestamp,
        "algorithm": head.algorithm,
        "keyId": head.key_id,
        "signature": head.signature,
    })
}

/// Adds `key: value` when there is a value.
fn optional(node: &mut Value, key: &str, value: Option<&String>) {
    if let (Some(object), Some(value)) = (node.as_object_mut(), value) {
        object.insert(key.to_owned(), json!(value));
    }
}

/// The PROV-O JSON-LD document of `transcript`, the item's (`item`).
pub fn document(item: ItemFacts<'_>, transcript: &Transcript) -> Value {
    let evidence = format!("urn:argus:evidence:{}", transcript.evidence_id);
    let activity = |sequence: i64| format!("{evidence}:activity:{sequence}");
    let entry_id = |sequence: i64| format!("{evidence}:entry:{sequence}");
    let mut item_node = json!({
        "@id": evidence,
        "@type": "Entity",
        "label": item.name,
        "mediaType": item.media_type,
        "sizeBytes": item.size_bytes,
        "contentSha256": item.sha256,
    });
    if let Some(first) = transcript.entries.first() {
        item_node["wasGeneratedBy"] = json!(activity(first.entry.sequence));
    }
    if let Some(head) = &transcript.tree_head {
        item_node["treeHead"] = tree_head(head);
    }
    let mut graph = vec![item_node];
    let mut agents = Map::new();
    let mut previous: Option<i64> = None;
    for e in &transcript.entries {
        let sequence = e.entry.sequence;
        // The app is a software agent; a token of the app itself (client
        // credentials) makes the actor the app.
        let actor = format!("urn:argus:agent:{}", e.entry.actor);
        let app = format!("urn:argus:agent:{}", e.entry.client_id);
        agents
            .insert(app.clone(), json!({"@id": app, "@type": ["Agent", "SoftwareAgent"], "label": e.entry.client_id}));
        agents.entry(actor.clone()).or_insert_with(|| json!({"@id": actor, "@type": "Agent", "label": e.entry.actor}));
        let mut operation = json!({
            "@id": activity(sequence),
            "@type": "Activity",
            "operation": e.entry.operation.as_str(),
            "startedAtTime": e.entry.recorded_at,
            "wasAssociatedWith": if actor == app { json!([actor]) } else { json!([actor, app]) },
        });
        if previous.is_some() {
            operation["used"] = json!(evidence);
        }
        optional(&mut operation, "details", e.entry.details.as_ref());
        optional(&mut operation, "custodian", e.entry.custodian.as_ref());
        let mut record = json!({
            "@id": entry_id(sequence),
            "@type": ["Entity", "TranscriptEntry"],
            "sequence": sequence,
            "wasGeneratedBy": activity(sequence),
            "contentSha256": e.entry.content_sha256,
            "leafHash": e.leaf_hash,
            "inclusionProof": e.inclusion_proof,
            "treeHead": tree_head(&e.tree_head),
        });
        if let Some(before) = previous {
            record["wasDerivedFrom"] = json!(entry_id(before));
        }
        optional(&mut record, "previousHash", e.entry.previous_hash.as_ref());
        graph.push(operation);
        graph.push(record);
        previous = Some(sequence);
    }
    graph.extend(agents.into_iter().map(|(_, agent)| agent));
    json!({"@context": context(), "@graph": graph})
}

#[cfg(test)]
mod tests {
    use argus_provenance::merkle;
    use argus_types::{EvidenceId, TenantId};

    use super::*;
    use argus_provenance::transcript::{EvidenceOperation, TranscriptEntry};

    #[test]
    fn operations_are_activities_and_entries_derive_from_the_one_before() {
        let id = EvidenceId::generate();
        let tenant = TenantId::generate();
        let rows = [EvidenceOperation::Create, EvidenceOperation::TransferCustody]
            .into_iter()
            .zip(1..)
            .map(|(operation, sequence)| {
                let entry = TranscriptEntry {
                    evidence_id: id.clone(),
                    tenant_id: tenant.clone(),
                    sequence,
                    operation,
                    actor: "usr_a".into(),
                    client_id: "app_a".into(),
                    recorded_at: format!("2026-12-06T03:00:0{sequence}.000000Z"),
                    content_sha256: "ab".repeat(32),
                    details: None,
                    custodian: (sequence == 2).then(|| "Lab 4".to_owned()),
                    previous_hash: None,
                };
                let leaf = merkle::leaf_hash(&entry.to_bytes());
                let head = TreeHead {
                    tree_size: sequence,
                    root_hash: "cd".repeat(32),
                    timestamp: entry.recorded_at.clone(),
                    algorithm: "ml-dsa-65".into(),
                    key_id: "pvk_a".into(),
                    signature: "ef".repeat(8),
                };
                (entry, leaf, head)
            })
            .collect();
        let transcript = Transcript::of(id.clone(), rows);
        let facts = ItemFacts { name: "cam.mp4", media_type: "video/mp4", size_bytes: 7, sha256: "00" };
        let doc = document(facts, &transcript);
        let graph = doc["@graph"].as_array().unwrap();
        let node = |suffix: &str| graph.iter().find(|n| n["@id"].as_str().unwrap().ends_with(suffix)).unwrap();
        let item = &graph[0];
        assert_eq!(
            (&item["@type"], &item["wasGeneratedBy"]),
            (&json!("Entity"), &json!(format!("urn:argus:evidence:{id}:activity:1")))
        );
        assert_eq!(item["treeHead"]["algorithm"], "ml-dsa-65");
        let transfer = node(":activity:2");
        assert_eq!(transfer["operation"], "TRANSFER_CUSTODY");
        assert_eq!(transfer["used"], item["@id"]);
        assert_eq!(transfer["custodian"], "Lab 4");
        assert_eq!(transfer["wasAssociatedWith"], json!(["urn:argus:agent:usr_a", "urn:argus:agent:app_a"]));
        assert!(node(":activity:1").get("used").is_none(), "CREATE made the item");
        assert_eq!(node(":entry:2")["wasDerivedFrom"], json!(format!("urn:argus:evidence:{id}:entry:1")));
        assert_eq!(node(":entry:1")["treeHead"]["keyId"], "pvk_a");
        assert_eq!(node("usr_a")["@type"], "Agent");
        assert_eq!(node("app_a")["@type"], json!(["Agent", "SoftwareAgent"]));
        assert!(doc["@context"].is_object(), "inline");
    }
}
