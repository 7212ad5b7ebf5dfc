//! `acqiMetrics` against records stored for two tenants, with every figure
//! worked out by hand below; the range's edges, bad ranges and the scope.

use argus_domain::epcr::Encounter;
use argus_store::WriteStamp;
use argus_types::TenantId;
use serde_json::{Value, json};

use crate::helpers::{Stack, code, op};

/// A record with `timeline`, `impressions` and the other fields of
/// `extra`; each reading, procedure and medicine is timed at the call.
fn encounter(timeline: Value, impressions: &[&str], extra: Value) -> Encounter {
    let mut body = json!({
        "patient": {"sex": "female"},
        "timeline": timeline,
        "impressions": impressions,
        "crew": [{"name": "Sam Medic", "role": "paramedic"}],
    });
    for (field, value) in extra.as_object().unwrap() {
        body[field] = value.clone();
    }
    let call = body["timeline"]["call_received"].clone();
    for list in ["vital_signs", "procedures", "medications"] {
        for item in body[list].as_array_mut().into_iter().flatten() {
            item["at"] = call.clone();
        }
    }
    Encounter::parse(body, chrono::Utc::now()).unwrap()
}

/// Call received at `call`, on scene and at hospital the given minutes
/// after it.
fn times(call: &str, on_scene: i64, at_hospital: Option<i64>) -> Value {
    let call: chrono::DateTime<chrono::Utc> = call.parse().unwrap();
    let mut timeline = json!({
        "call_received": call,
        "on_scene": call + chrono::Duration::minutes(on_scene),
    });
    if let Some(m) = at_hospital {
        timeline["at_hospital"] = json!(call + chrono::Duration::minutes(m));
    }
    timeline
}

fn med(name: &str) -> Value {
    json!({"medication": name, "route": "oral"})
}

fn pain_scores() -> Value {
    json!([
        {"type": "pain_score", "value": 8},
        {"type": "pain_score", "value": 3},
    ])
}

fn arrest(witness: &str, rhythm: &str, attempted: bool, outcome: &str) -> Value {
    json!({
        "cardiac_arrest": {"witness": witness, "initial_rhythm": rhythm, "presumed_cardiac": true,
                           "resuscitation_attempted": attempted},
        "outcome": outcome,
    })
}

/// The full STEMI bundle: aspirin, GTN, morphine, two pain scores.
fn stemi_bundle() -> Value {
    json!({
        "vital_signs": pain_scores(),
        "medications": [med("aspirin"), med("glyceryl_trinitrate"), med("morphine")],
    })
}

async fn store(stack: &Stack, tenant: &TenantId, records: Vec<Encounter>) {
    for record in records {
        stack.store.create_encounter(WriteStamp::Now, tenant, record, "test").await.unwrap();
    }
}

#[tokio::test]
async fn acqi_metrics_match_the_hand_worked_figures() {
    let stack = Stack::start().await;
    let ops = stack.load_shipped_bundle("acqi-reporting").await;
    let (client, token) = stack.granted_client(None, &["metrics:read"], "acqi-reporting").await;
    let tenant = client.tenant.to_string();

    // Minutes after the call: (on scene, at hospital).
    let glucose = json!({"type": "blood_glucose", "value": 6.0, "unit": "mmol/L"});
    let bp = json!({"type": "blood_pressure", "systolic": 165, "diastolic": 90});
    let fast = json!({"procedure": "fast_assessment"});
    store(
        &stack,
        &client.tenant,
        vec![
            // 1. STEMI, whole bundle: met. (6, 40)
            encounter(times("2026-03-10T10:00:00Z", 6, Some(40)), &["stemi"], stemi_bundle()),
            // 2. STEMI, aspirin contraindicated: excluded. (10, 50)
            encounter(
                times("2026-03-11T08:00:00Z", 10, Some(50)),
                &["stemi"],
                json!({
                    "vital_signs": pain_scores(),
                    "medications": [med("glyceryl_trinitrate"), med("morphine")],
                    "medications_withheld": [{"medication": "aspirin", "reason": "contraindicated"}],
                }),
            ),
            // 3. STEMI, no GTN: not met. (14, 60)
            encounter(
                times("2026-03-12T09:00:00Z", 14, Some(60)),
                &["stemi"],
                json!({
                    "vital_signs": pain_scores(),
                    "medications": [med("aspirin"), med("morphine")],
                }),
            ),
            // 4. Stroke, FAST, glucose, pressure: met. (8, 45)
            encounter(
                times("2026-03-15T12:00:00Z", 8, Some(45)),
                &["stroke"],
                json!({
                    "procedures": [fast], "vital_signs": [glucose, bp],
                }),
            ),
            // 5. Stroke, no glucose: not met; called late on the last day of
            // the range, at hospital the next day. (12, 50)
            encounter(
                times("2026-03-31T23:30:00Z", 12, Some(50)),
                &["stroke"],
                json!({
                    "procedures": [fast], "vital_signs": [bp],
                }),
            ),
            // 6. Bystander-witnessed VF, resuscitated, ROSC: Utstein group.
            encounter(
                times("2026-03-20T07:00:00Z", 7, Some(35)),
                &["cardiac_arrest"],
                arrest("bystander", "vf", true, "rosc"),
            ),
            // 7. Bystander-witnessed pVT, resuscitated, ROSC: Utstein group.
            encounter(
                times("2026-03-21T07:00:00Z", 7, Some(35)),
                &["cardiac_arrest"],
                arrest("bystander", "pvt", true, "rosc"),
            ),
            // 8. Unwitnessed asystole, resuscitated, no ROSC.
            encounter(
                times("2026-03-22T07:00:00Z", 9, Some(40)),
                &["cardiac_arrest"],
                arrest("unwitnessed", "asystole", true, "conveyed"),
            ),
            // 9. Bystander-witnessed VF, not resuscitated (death confirmed):
            // excluded from both ROSC indicators.
            encounter(
                times("2026-03-23T07:00:00Z", 9, None),
                &["cardiac_arrest"],
                arrest("bystander", "vf", false, "role"),
            ),
            // 10, 11. Just outside March: an unmet STEMI each.
            encounter(times("2026-02-28T23:59:59Z", 30, Some(90)), &["stemi"], json!({})),
            encounter(times("2026-04-01T00:00:00Z", 30, Some(90)), &["stemi"], json!({})),
        ],
    )
    .await;
    // Another tenant's records, in the same days: none of them counts.
    let other = stack.client(None, &["metrics:read"]).await;
    stack.grant(&other, "acqi-reporting").await;
    store(
        &stack,
        &other.tenant,
        vec![
            encounter(times("2026-03-10T10:00:00Z", 1, Some(2)), &["stemi"], stemi_bundle()),
            encounter(times("2026-03-10T11:00:00Z", 1, Some(2)), &["stemi"], json!({})),
            encounter(
                times("2026-03-10T12:00:00Z", 1, Some(2)),
                &["cardiac_arrest"],
                arrest("bystander", "vf", true, "conveyed"),
            ),
        ],
    )
    .await;

    let query = op(&ops, "AcqiMetrics");
    let ask = async |token: &str, tenant: &str, from: &str, to: &str| -> Value {
        let request = json!({
            "id": format!("sha256:{}", query.sha256),
            "variables": {"fromDate": from, "toDate": to},
        });
        stack.graphql(token, tenant, request).await
    };
    let indicator =
        |v: &Value| (v["numerator"].clone(), v["denominator"].clone(), v["exclusions"].clone(), v["rate"].clone());
    let interval = |v: &Value| (v["count"].clone(), v["meanSeconds"].clone(), v["p90Seconds"].clone());

    // March 2026: records 1 to 9.
    let body = ask(&token, &tenant, "2026-03-01", "2026-03-31").await;
    assert!(body["errors"].is_null(), "{body}");
    let m = &body["data"]["acqiMetrics"];
    assert_eq!((m["fromDate"].as_str(), m["toDate"].as_str()), (Some("2026-03-01"), Some("2026-03-31")));
    assert_eq!(m["encounters"], 9);
    assert_eq!(m["stemiCareBundle"]["name"], "stemi_care_bundle");
    // STEMI: 1 met, 3 not; 2 excluded. 1 / 2 = 0.5.
    assert_eq!(indicator(&m["stemiCareBundle"]), (json!(1), json!(2), json!(1), json!(0.5)));
    // Stroke: 4 met, 5 not. 1 / 2.
    assert_eq!(indicator(&m["strokeCareBundle"]), (json!(1), json!(2), json!(0), json!(0.5)));
    // ROSC, all resuscitated: 6 and 7 of 6, 7, 8; 9 excluded. 2 / 3.
    assert_eq!(indicator(&m["roscAll"]), (json!(2), json!(3), json!(1), json!(2.0 / 3.0)));
    // ROSC, Utstein group: 6 and 7 of 6, 7; 9 (bystander VF) excluded. 2 / 2.
    assert_eq!(indicator(&m["roscUtstein"]), (json!(2), json!(2), json!(1), json!(1.0)));
    // STEMI on scene at 6, 10, 14 min: mean 10 min = 600 s; the 90th
    // centile is the ceil(0.9 * 3) = 3rd: 14 min = 840 s.
    assert_eq!(interval(&m["stemiCallToArrival"]), (json!(3), json!(600.0), json!(840.0)));
    // STEMI at hospital at 40, 50, 60 min: mean 3000 s; 3rd: 3600 s.
    assert_eq!(interval(&m["stemiCallToHospital"]), (json!(3), json!(3000.0), json!(3600.0)));
    // Stroke on scene at 8, 12 min: mean 600 s; ceil(1.8) = 2nd: 720 s.
    assert_eq!(interval(&m["strokeCallToArrival"]), (json!(2), json!(600.0), json!(720.0)));
    // Stroke at hospital at 45, 50 min: mean 2850 s; 2nd: 3000 s.
    assert_eq!(interval(&m["strokeCallToHospital"]), (json!(2), json!(2850.0), json!(3000.0)));
    assert_eq!(m["strokeCallToHospital"]["name"], "stroke_call_to_hospital");

    // 12 to 15 March: records 3 (STEMI, not met) and 4 (stroke, met).
    let body = ask(&token, &tenant, "2026-03-12", "2026-03-15").await;
    let m = &body["data"]["acqiMetrics"];
    assert_eq!(m["encounters"], 2, "{body}");
    assert_eq!(indicator(&m["stemiCareBundle"]), (json!(0), json!(1), json!(0), json!(0.0)));
    assert_eq!(indicator(&m["strokeCareBundle"]), (json!(1), json!(1), json!(0), json!(1.0)));
    assert_eq!(indicator(&m["roscAll"]), (json!(0), json!(0), json!(0), Value::Null));
    assert_eq!(interval(&m["stemiCallToArrival"]), (json!(1), json!(840.0), json!(840.0)));

    // A range with no records: every denominator 0, no rates, no times.
    let body = ask(&token, &tenant, "2025-01-01", "2025-12-31").await;
    assert!(body["errors"].is_null(), "{body}");
    let m = &body["data"]["acqiMetrics"];
    assert_eq!(m["encounters"], 0);
    for name in ["stemiCareBundle", "strokeCareBundle", "roscAll", "roscUtstein"] {
        assert_eq!(indicator(&m[name]), (json!(0), json!(0), json!(0), Value::Null), "{name}");
    }
    for name in ["stemiCallToArrival", "stemiCallToHospital", "strokeCallToArrival", "strokeCallToHospital"] {
        assert_eq!(interval(&m[name]), (json!(0), Value::Null, Value::Null), "{name}");
    }

    // The other tenant sees its own three records only: 1 / 2 STEMI, and
    // an arrest without ROSC.
    let other_token = stack.cc_token(&other, None).await;
    let body = ask(&other_token, other.tenant.as_str(), "2026-03-01", "2026-03-31").await;
    let m = &body["data"]["acqiMetrics"];
    assert_eq!(m["encounters"], 3, "{body}");
    assert_eq!(indicator(&m["stemiCareBundle"]), (json!(1), json!(2), json!(0), json!(0.5)));
    assert_eq!(indicator(&m["roscUtstein"]), (json!(0), json!(1), json!(0), json!(0.0)));
}

#[tokio::test]
async fn bad_ranges_and_a_missing_scope_are_refused() {
    let stack = Stack::start().await;
    let ops = stack.load_shipped_bundle("acqi-reporting").await;
    let client = stack.client(None, &["metrics:read", "incidents:read"]).await;
    stack.grant(&client, "acqi-reporting").await;
    let tenant = client.tenant.to_string();
    let query = op(&ops, "AcqiMetrics");
    let ask = async |token: &str, from: &str, to: &str| -> Value {
        let request = json!({
            "id": format!("sha256:{}", query.sha256),
            "variables": {"fromDate": from, "toDate": to},
        });
        stack.graphql(token, &tenant, request).await
    };

    let token = stack.cc_token(&client, None).await;
    for (from, to, expected, says) in [
        ("2026-03-31", "2026-03-01", "BAD_USER_INPUT", "must not be before fromDate"),
        // 367 days, both included.
        ("2025-01-01", "2026-01-02", "BAD_USER_INPUT", "at most 366 days"),
        ("2026-02-30", "2026-03-01", "GRAPHQL_VALIDATION_FAILED", "fromDate"),
        ("01/03/2026", "2026-03-31", "GRAPHQL_VALIDATION_FAILED", "fromDate"),
    ] {
        let body = ask(&token, from, to).await;
        assert_eq!(code(&body), expected, "{from}..{to}: {body}");
        assert!(body["errors"][0]["message"].as_str().unwrap().contains(says), "{from}..{to}: {body}");
        assert!(body["data"].is_null() || body["data"]["acqiMetrics"].is_null(), "{body}");
    }
    // A leap year's 366 days are one range.
    let body = ask(&token, "2028-01-01", "2028-12-31").await;
    assert!(body["errors"].is_null(), "{body}");
    assert_eq!(body["data"]["acqiMetrics"]["encounters"], 0);

    // The same app's token without metrics:read.
    let narrowed = stack.cc_token(&client, Some("incidents:read")).await;
    let body = ask(&narrowed, "2026-03-01", "2026-03-31").await;
    assert_eq!(code(&body), "FORBIDDEN", "{body}");
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("metrics:read"), "{body}");
    assert!(body["data"]["acqiMetrics"].is_null(), "{body}");
}
