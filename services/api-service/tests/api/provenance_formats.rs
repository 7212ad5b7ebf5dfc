//! Evidence provenance beyond the default: ML-DSA-65 tree heads, their
//! published keys (`/.well-known/provenance-keys/ml-dsa-65`) and their
//! verification by an independent implementation (@noble/post-quantum),
//! and the transcript as PROV-O JSON-LD expanded by an independent JSON-LD
//! processor (jsonld.js), both through scripts/provenance-check.sh.

use argus_provenance::Algorithm;
use base64::Engine;
use serde_json::{Value, json};

use crate::helpers::Stack;
use crate::provenance::{BUNDLE, Caller, item_with_history, rest, sealer};

/// What scripts/provenance-check.sh answered for `command` on `inputs`:
/// its exit status and output; `None` (the test skips, saying so loudly)
/// when the checker cannot be installed here.
fn check(command: &str, inputs: &[&Value]) -> Option<(i32, String)> {
    let named: Vec<(String, &Value)> = inputs.iter().enumerate().map(|(i, v)| (i.to_string(), *v)).collect();
    let named: Vec<(&str, &Value)> = named.iter().map(|(n, v)| (n.as_str(), *v)).collect();
    let (status, text) = crate::helpers::run_checker("provenance-check.sh", &[command], &named);
    if status == Some(3) {
        eprintln!("\n*** SKIPPED: scripts/provenance-check.sh could not install its checker: {text} ***\n");
        return None;
    }
    Some((status.unwrap_or(-1), text))
}

fn keys_url(stack: &Stack, query: &str) -> String {
    format!("{}/.well-known/provenance-keys/ml-dsa-65{query}", stack.api)
}

#[tokio::test]
async fn ml_dsa_heads_verify_with_the_published_keys_and_an_independent_implementation() {
    let stack = Stack::start().await;
    let ops = stack.load_shipped_bundle(BUNDLE).await;
    let (writer, id) = item_with_history(&stack, &ops, Algorithm::MlDsa65).await;
    // A rotation: heads signed with the retired key stay verifiable.
    let retired =
        stack.store.evidence_entries(writer.tenant(), &id.parse().unwrap(), 1, 1).await.unwrap()[0].key_id.clone();
    let current = stack.store.rotate_provenance_key(writer.tenant(), &sealer()).await.unwrap();

    let served: Value =
        rest(&stack, &writer, reqwest::Method::GET, &id, "").send().await.unwrap().json().await.unwrap();
    let transcript = &served["transcript"];
    let entries = transcript["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 5);
    assert!(entries.iter().all(|e| e["tree_head"]["algorithm"] == "ml-dsa-65"), "{transcript}");
    assert_eq!(
        (entries[0]["tree_head"]["key_id"].as_str(), entries[4]["tree_head"]["key_id"].as_str()),
        (Some(retired.as_str()), Some(current.as_str()))
    );

    let r = stack.http.get(keys_url(&stack, &format!("?tenant={}", writer.tenant()))).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["cache-control"].to_str().unwrap().starts_with("public"));
    let set: Value = r.json().await.unwrap();
    let keys = set["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2, "{set}");
    for (key, kid) in keys.iter().zip([&retired, &current]) {
        assert_eq!((&key["kty"], &key["alg"], &key["kid"]), (&json!("AKP"), &json!("ML-DSA-65"), &json!(kid)), "{key}");
        let public = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(key["pub"].as_str().unwrap()).unwrap();
        assert_eq!(public.len(), 1952);
        assert!(key.get("k").is_none() && key.get("priv").is_none(), "no secret is published");
    }

    // @noble/post-quantum verifies every head with the published keys, and
    // refuses a head whose signature changed.
    let Some((status, out)) = check("verify-ml-dsa", &[&served, &set]) else { return };
    assert_eq!(status, 0, "{out}");
    let report: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(report["verified"], 6, "five entries' heads and the latest: {out}");
    let mut forged = served.clone();
    let signature = forged["transcript"]["entries"][2]["tree_head"]["signature"].as_str().unwrap().to_owned();
    let flipped = if signature.starts_with('0') { "1" } else { "0" };
    forged["transcript"]["entries"][2]["tree_head"]["signature"] = json!(format!("{flipped}{}", &signature[1..]));
    let (status, out) = check("verify-ml-dsa", &[&forged, &set]).unwrap();
    assert_ne!(status, 0, "{out}");
    assert!(out.contains("\"failed\":[3]"), "{out}");
}

#[tokio::test]
async fn published_keys_are_per_tenant_and_hmac_keys_are_never_published() {
    let stack = Stack::start().await;
    let ops = stack.load_shipped_bundle(BUNDLE).await;
    let (ours, _) = item_with_history(&stack, &ops, Algorithm::MlDsa65).await;
    let (theirs, _) = item_with_history(&stack, &ops, Algorithm::MlDsa65).await;
    let (hmac, _) = item_with_history(&stack, &ops, Algorithm::HmacSha256).await;
    let set = async |caller: &Caller| -> Value {
        let r = stack.http.get(keys_url(&stack, &format!("?tenant={}", caller.tenant()))).send().await.unwrap();
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    };
    let kids = |set: &Value| -> Vec<String> {
        set["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect()
    };
    let (our_kids, their_kids) = (kids(&set(&ours).await), kids(&set(&theirs).await));
    assert_eq!((our_kids.len(), their_kids.len()), (1, 1));
    assert_ne!(our_kids, their_kids, "each tenant's set holds its own keys only");
    assert_eq!(set(&hmac).await, json!({"keys": []}), "a tenant without ML-DSA-65 keys");
    let unknown = argus_types::TenantId::generate();
    let r = stack.http.get(keys_url(&stack, &format!("?tenant={unknown}"))).send().await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"keys": []}));

    for (query, status) in [("", 400), ("?tenant=", 400), ("?tenant=nope", 400), ("?tenant=app_x", 400)] {
        let r = stack.http.get(keys_url(&stack, query)).send().await.unwrap();
        assert_eq!(r.status(), status, "{query}");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
    }
    for algorithm in ["hmac-sha256", "rsa", "ML-DSA-65"] {
        let r = stack.http.get(format!("{}/.well-known/provenance-keys/{algorithm}", stack.api)).send().await.unwrap();
        assert_eq!(r.status(), 404, "{algorithm}");
    }
}

#[tokio::test]
async fn the_transcript_as_prov_o_json_ld_expands_into_the_prov_triples() {
    let stack = Stack::start().await;
    let ops = stack.load_shipped_bundle(BUNDLE).await;
    let (writer, id) = item_with_history(&stack, &ops, Algorithm::HmacSha256).await;
    let get =
        |accept: &'static str| rest(&stack, &writer, reqwest::Method::GET, &id, "").header("Accept", accept).send();
    let r = get("application/ld+json").await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/ld+json");
    assert_eq!(r.headers()["vary"], "Accept");
    let doc: Value = r.json().await.unwrap();
    assert!(doc["@context"].is_object(), "the context is inline");

    // JSON stays the default, and wins where it ranks higher.
    for accept in ["application/json", "*/*", "application/ld+json;q=0.5, application/json", "nonsense"] {
        let r = get(accept).await.unwrap();
        assert_eq!(r.headers()["content-type"], "application/json", "{accept}");
    }

    let Some((status, nquads)) = check("expand-jsonld", &[&doc]) else { return };
    assert_eq!(status, 0, "{nquads}");
    let prov = |term: &str| format!("<http://www.w3.org/ns/prov#{term}>");
    let item = format!("<urn:argus:evidence:{id}>");
    let activity = |n: u32| format!("<urn:argus:evidence:{id}:activity:{n}>");
    let entry = |n: u32| format!("<urn:argus:evidence:{id}:entry:{n}>");
    let app = format!("<urn:argus:agent:{}>", writer.client_id());
    let a = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>";
    let argus = |term: &str| format!("<https://knogin.com/ns/provenance#{term}>");
    let expected = [
        format!("{item} {a} {} .", prov("Entity")),
        format!("{item} {} {} .", prov("wasGeneratedBy"), activity(1)),
        format!("{} {a} {} .", activity(3), prov("Activity")),
        format!("{} {} {item} .", activity(3), prov("used")),
        format!("{} {} {app} .", activity(3), prov("wasAssociatedWith")),
        format!("{app} {a} {} .", prov("Agent")),
        format!("{} {a} {} .", entry(3), prov("Entity")),
        format!("{} {} {} .", entry(3), prov("wasGeneratedBy"), activity(3)),
        format!("{} {} {} .", entry(3), prov("wasDerivedFrom"), entry(2)),
        format!("{} {} \"TRANSFER_CUSTODY\" .", activity(3), argus("operation")),
    ];
    for triple in &expected {
        assert!(nquads.lines().any(|l| l == triple), "missing {triple} in\n{nquads}");
    }
    let started = format!("{} {} \"", activity(3), prov("startedAtTime"));
    assert!(
        nquads
            .lines()
            .any(|l| l.starts_with(&started) && l.ends_with("^^<http://www.w3.org/2001/XMLSchema#dateTime> .")),
        "{nquads}"
    );
    for term in ["leafHash", "signature", "rootHash", "keyId", "treeSize"] {
        assert!(nquads.contains(&argus(term)), "{term}");
    }
}
