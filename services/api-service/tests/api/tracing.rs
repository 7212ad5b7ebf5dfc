//! W3C trace context end to end, the tenant-scoped trace lookup, and OTLP
//! export, against the real api-service binary (its own process, so its own
//! `service.name` and span store writer) and a delivery worker in the test
//! process (whose telemetry writes as `delivery-worker`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{HttpResponse, web};
use argus_bus::testing::TestVhost;
use argus_types::traces::{NewSpanBatch, trace_id_started_at};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use serde_json::{Value, json};

use crate::helpers::{ApiBinary, Stack, op, spawn_worker};

/// `bytes` (at most 16) of a fresh ULID, from its random end, as hex.
fn random_hex(bytes: usize) -> String {
    let ulid = ulid::Ulid::generate().to_bytes();
    hex(&ulid[16 - bytes..])
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect()
}

async fn graphql(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    tenant: &str,
    traceparent: &str,
    body: Value,
) -> reqwest::Response {
    http.post(format!("{base}/graphql"))
        .bearer_auth(token)
        .header("X-Tenant-ID", tenant)
        .header("traceparent", traceparent)
        .header("tracestate", "vendor=abc")
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn lookup(http: &reqwest::Client, base: &str, token: &str, tenant: &str, trace_id: &str) -> reqwest::Response {
    http.get(format!("{base}/v1/observability/traces/{trace_id}"))
        .bearer_auth(token)
        .header("X-Tenant-ID", tenant)
        .send()
        .await
        .unwrap()
}

/// The span of `spans` named `name` from `service`.
fn find<'a>(spans: &'a [Value], service: &str, name: &str) -> &'a Value {
    spans
        .iter()
        .find(|s| s["service"] == service && s["name"] == name)
        .unwrap_or_else(|| panic!("no {service} span `{name}` in {spans:#?}"))
}

#[tokio::test]
async fn one_traceparent_runs_from_the_graphql_call_through_rabbitmq_to_the_webhook() {
    let stack = Stack::start_with_span_store("delivery-worker").await;
    let vhost = TestVhost::create().await;
    let worker = spawn_worker(stack.db.url(), vhost.url());
    let api = ApiBinary::spawn(&stack, &[]);

    let hook = stack.incident_hook().await;
    let (ops, client) = (&hook.ops, &hook.client);

    let (trace_id, caller_span) = (random_hex(16), random_hex(8));
    let traceparent = format!("00-{trace_id}-{caller_span}-01");
    let token = stack.cc_token(client, None).await;
    let create = json!({
        "id": format!("sha256:{}", op(ops, "CreateIncident").sha256),
        "variables": { "input": { "title": "Traced", "severity": "LOW" } }
    });
    let r = graphql(&stack.http, &api.base, &token, client.tenant.as_str(), &traceparent, create).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-argus-trace-id"], trace_id.as_str());
    let server_span = r.headers()["x-argus-span-id"].to_str().unwrap().to_owned();
    assert_eq!(server_span.len(), 16);
    assert_ne!(server_span, caller_span);

    // The webhook carries the same trace.
    let headers = hook.first_delivery().await.headers;
    let delivered = headers["traceparent"].to_str().unwrap().to_owned();
    let fields: Vec<&str> = delivered.split('-').collect();
    assert_eq!((fields[0], fields[1], fields[3]), ("00", trace_id.as_str(), "01"), "{delivered}");

    // The lookup shows every hop under the trace, with its parent.
    let reader = stack.mint(&client.tenant, &client.client_id, "api.knogin.com", &["traces:read"]).await;
    let want = ["POST /graphql", "publish argus.events", "process argus.fanout", "deliver", "POST"];
    let until = Instant::now() + Duration::from_secs(20);
    let spans = loop {
        let r = lookup(&stack.http, &api.base, &reader, client.tenant.as_str(), &trace_id).await;
        if r.status() == 200 {
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["trace_id"], trace_id.as_str());
            let spans = body["spans"].as_array().unwrap().clone();
            if want.iter().all(|name| spans.iter().any(|s| s["name"] == *name)) {
                break spans;
            }
        }
        assert!(Instant::now() < until, "the trace is incomplete");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let id = |s: &Value| s["span_id"].as_str().unwrap().to_owned();
    let parent = |s: &Value| s["parent_span_id"].as_str().unwrap_or_default().to_owned();
    let server = find(&spans, "api-service", "POST /graphql");
    assert_eq!((id(server), parent(server)), (server_span.clone(), caller_span));
    assert_eq!(server["kind"], "server");
    assert_eq!(server["attributes"]["http.response.status_code"], 200);
    assert_eq!(server["attributes"]["http.route"], "/graphql");
    // The database calls are the request's children.
    assert!(spans.iter().any(|s| s["service"] == "api-service"
        && s["kind"] == "client"
        && s["attributes"]["db.system.name"] == "postgresql"));
    assert!(
        spans.iter().all(|s| s["attributes"].get("db.query.text").is_none()),
        "the SQL text is for operators (OTLP), not tenants"
    );
    let api_ids: Vec<String> = spans.iter().filter(|s| s["service"] == "api-service").map(id).collect();
    let publish = find(&spans, "delivery-worker", "publish argus.events");
    assert_eq!(publish["kind"], "producer");
    assert!(api_ids.contains(&parent(publish)), "the relay continues the writer's trace");
    let fan_out = find(&spans, "delivery-worker", "process argus.fanout");
    assert_eq!((fan_out["kind"].as_str(), parent(fan_out)), (Some("consumer"), id(publish)));
    // The first attempt is made by the fan-out, one span per delivery.
    let deliver = find(&spans, "delivery-worker", "deliver");
    assert_eq!(parent(deliver), id(fan_out));
    assert!(deliver["attributes"]["argus.delivery_id"].as_str().unwrap().starts_with("dlv_"));
    let post = find(&spans, "delivery-worker", "POST");
    assert_eq!((post["kind"].as_str(), parent(post)), (Some("client"), id(deliver)));
    assert_eq!(post["attributes"]["http.response.status_code"], 200);
    // The receiver's parent is the worker's request span.
    assert_eq!(fields[2], id(post));
    assert!(spans.iter().all(|s| s["attributes"].as_object().unwrap().keys().all(|k| !k.contains("authorization"))));

    // Another tenant cannot read it; bad ids and callers are refused.
    let other = stack.client(None, &["incidents:read"]).await;
    let outsider = stack.mint(&other.tenant, &other.client_id, "api.knogin.com", &["traces:read"]).await;
    let r = lookup(&stack.http, &api.base, &outsider, other.tenant.as_str(), &trace_id).await;
    assert_eq!(r.status(), 404);
    let r = lookup(&stack.http, &api.base, &outsider, client.tenant.as_str(), &trace_id).await;
    assert_eq!(r.status(), 403, "X-Tenant-ID must be the token's tenant");
    for bad in ["abc", "00000000000000000000000000000000", &format!("{trace_id}00")] {
        let r = lookup(&stack.http, &api.base, &reader, client.tenant.as_str(), bad).await;
        assert_eq!(r.status(), 400, "{bad}");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
    }
    let no_scope = stack.mint(&client.tenant, &client.client_id, "api.knogin.com", &["incidents:read"]).await;
    assert_eq!(lookup(&stack.http, &api.base, &no_scope, client.tenant.as_str(), &trace_id).await.status(), 403);

    // A call without traceparent starts a trace whose id begins with the
    // second it started; its spans are found all the same.
    let before = chrono::Utc::now().timestamp();
    let read = json!({ "id": format!("sha256:{}", op(ops, "IncidentById").sha256), "variables": { "id": "inc_x" } });
    let r = stack
        .http
        .post(format!("{}/graphql", api.base))
        .bearer_auth(&token)
        .header("X-Tenant-ID", client.tenant.as_str())
        .json(&read)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let started = r.headers()["x-argus-trace-id"].to_str().unwrap().to_owned();
    let second = i64::from_str_radix(&started[..8], 16).unwrap();
    assert!((before..=chrono::Utc::now().timestamp()).contains(&second), "{started}");
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let r = lookup(&stack.http, &api.base, &reader, client.tenant.as_str(), &started).await;
        if r.status() == 200 {
            let body: Value = r.json().await.unwrap();
            let spans = body["spans"].as_array().unwrap();
            assert!(spans.iter().all(|s| s["service"] == "api-service"), "{spans:#?}");
            if spans.iter().any(|s| s["name"] == "POST /graphql") {
                break;
            }
        }
        assert!(Instant::now() < until, "the trace the call started is not found");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    worker.cancel();
}

#[tokio::test]
async fn invalid_traceparents_start_a_new_trace_and_never_fail_the_request() {
    let stack = Stack::start().await;
    let valid_trace = random_hex(16);
    let valid = format!("00-{valid_trace}-{}-01", random_hex(8));
    let r = stack.http.get(format!("{}/healthz", stack.api)).header("traceparent", &valid).send().await.unwrap();
    assert_eq!(r.headers()["x-argus-trace-id"], valid_trace.as_str());

    let upper = format!("00-{}-{}-01", valid_trace.to_uppercase(), random_hex(8));
    let zero_trace = format!("00-{}-{}-01", "0".repeat(32), random_hex(8));
    let zero_span = format!("00-{valid_trace}-{}-01", "0".repeat(16));
    let version_ff = format!("ff-{valid_trace}-{}-01", random_hex(8));
    let short = format!("00-{}-{}-01", &valid_trace[1..], random_hex(8));
    let long_span = format!("00-{valid_trace}-{}0-01", random_hex(8));
    for bad in [upper, zero_trace, zero_span, version_ff, short, long_span, "garbage".to_owned(), "00-".to_owned()] {
        for (method, base, path) in [
            ("GET", &stack.api, "/healthz"),
            ("POST", &stack.api, "/graphql"),
            ("POST", &stack.auth, "/v1/oauth/token"),
        ] {
            let r = stack
                .http
                .request(method.parse().unwrap(), format!("{base}{path}"))
                .header("traceparent", &bad)
                .header("tracestate", "vendor=abc")
                .send()
                .await
                .unwrap();
            assert!(r.status().as_u16() < 500, "{method} {path} with {bad}: {}", r.status());
            let trace = r.headers()["x-argus-trace-id"].to_str().unwrap();
            assert_eq!(trace.len(), 32, "{path}");
            assert!(trace.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
            assert_ne!(trace, valid_trace, "{bad} must start a new trace");
            assert_eq!(r.headers()["x-argus-span-id"].to_str().unwrap().len(), 16);
        }
    }
    // Error responses carry the headers too (404, 405, 401).
    for (method, path) in [("GET", "/nowhere"), ("DELETE", "/graphql"), ("POST", "/v1/observability/traces/x")] {
        let r = stack.http.request(method.parse().unwrap(), format!("{}{path}", stack.api)).send().await.unwrap();
        assert!(r.status().is_client_error());
        assert!(r.headers().contains_key("x-argus-trace-id"), "{method} {path}");
    }
}

/// A batch as the writer stores it: an OTLP ResourceSpans from the
/// api-service with one span per trace, each 1.5 ms long, with a secret
/// among its attributes.
fn stored_batch(
    tenant: &str,
    traces: &[&str],
    start: chrono::DateTime<chrono::Utc>,
    written_at: chrono::DateTime<chrono::Utc>,
) -> NewSpanBatch {
    let nanos = start.timestamp_nanos_opt().unwrap() as u64;
    let attribute = |key: &str, value| KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    };
    let spans = traces
        .iter()
        .map(|trace| Span {
            trace_id: hex_bytes(trace),
            span_id: hex_bytes(&random_hex(8)),
            name: "GET /healthz".into(),
            kind: 2,
            start_time_unix_nano: nanos,
            end_time_unix_nano: nanos + 1_500_000,
            attributes: vec![
                attribute("http.response.status_code", any_value::Value::IntValue(200)),
                attribute("client_secret", any_value::Value::StringValue("leak".into())),
            ],
            ..Default::default()
        })
        .collect();
    let spans = ResourceSpans {
        resource: Some(Resource {
            attributes: vec![attribute("service.name", any_value::Value::StringValue("api-service".into()))],
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans { spans, ..Default::default() }],
        ..Default::default()
    };
    NewSpanBatch {
        tenant_id: tenant.to_owned(),
        service: "api-service".into(),
        trace_ids: traces.iter().map(|trace| u128::from_str_radix(trace, 16).unwrap()).collect(),
        first_start: start,
        last_start: start,
        written_at,
        span_count: i32::try_from(traces.len()).unwrap(),
        spans: spans.encode_to_vec(),
    }
}

#[tokio::test]
async fn spans_older_than_the_retention_are_never_returned_and_are_purged() {
    let stack = Stack::start().await;
    let client = stack.client(None, &["incidents:read"]).await;
    let reader = stack.mint(&client.tenant, &client.client_id, "api.knogin.com", &["traces:read"]).await;
    let (old_trace, fresh_trace) = (random_hex(16), random_hex(16));
    let batch = |trace: &str, age_days: i64| {
        let start = chrono::Utc::now() - chrono::Duration::days(age_days);
        stored_batch(client.tenant.as_str(), &[trace], start, start)
    };
    stack.store.insert_span_batches(&[batch(&old_trace, 8), batch(&fresh_trace, 0)]).await.unwrap();
    let r = lookup(&stack.http, &stack.api, &reader, client.tenant.as_str(), &old_trace).await;
    assert_eq!(r.status(), 404, "older than the 7-day retention");
    let r = lookup(&stack.http, &stack.api, &reader, client.tenant.as_str(), &fresh_trace.to_uppercase()).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["spans"][0]["attributes"], json!({"http.response.status_code": 200}), "no secret is returned");
    assert_eq!(body["spans"][0]["duration_ms"], 1.5);

    let cutoff = chrono::Utc::now() - chrono::Duration::days(7);
    assert_eq!(stack.store.purge_spans_before(cutoff, 1000).await.unwrap(), 1);
    assert_eq!(stack.store.purge_spans_before(cutoff, 1000).await.unwrap(), 0);
}

/// A trace id as Argus makes one for a trace started at `at`.
fn argus_trace(at: chrono::DateTime<chrono::Utc>) -> String {
    let random = u128::from_str_radix(&random_hex(16), 16).unwrap();
    format!("{:032x}", trace_id_started_at(u32::try_from(at.timestamp()).unwrap(), random))
}

/// The span store's key of a trace: the low 64 bits, as PostgreSQL's bigint.
fn key(trace: &str) -> i64 {
    u128::from_str_radix(trace, 16).unwrap() as u64 as i64
}

#[tokio::test]
async fn traces_argus_started_are_found_by_when_their_spans_were_written() {
    let stack = Stack::start().await;
    let client = stack.client(None, &["incidents:read"]).await;
    let other = stack.client(None, &["incidents:read"]).await;
    let reader = stack.mint(&client.tenant, &client.client_id, "api.knogin.com", &["traces:read"]).await;
    let now = chrono::Utc::now();
    let recent = argus_trace(now);
    // Started two minutes before its span was written: past the window.
    let late = argus_trace(now - chrono::Duration::minutes(2));
    let callers = random_hex(16);
    // Another trace with the same key, started and written ten minutes ago.
    let twin = format!("{}{}", &argus_trace(now - chrono::Duration::minutes(10))[..16], &recent[16..]);
    let (tenant, other_tenant) = (client.tenant.as_str(), other.tenant.as_str());
    stack
        .store
        .insert_span_batches(&[
            stored_batch(tenant, &[&recent, &callers], now, now),
            stored_batch(tenant, &[&late], now, now),
            stored_batch(tenant, &[&twin], now - chrono::Duration::minutes(10), now - chrono::Duration::minutes(10)),
            // The same trace id in another tenant's batch of the same moment.
            stored_batch(other_tenant, &[&recent], now, now),
        ])
        .await
        .unwrap();
    // Only the traces of callers and the late one cost a GIN entry.
    let (recent_key, late_key, callers_key) = (key(&recent), key(&late), key(&callers));
    stack
        .db
        .execute(&format!(
            "DO $$ BEGIN IF (SELECT count(*) FROM trace_span_batches WHERE \
               (trace_keys = '{{{callers_key}}}' AND recent_trace_keys = '{{{recent_key}}}') \
               OR (trace_keys = '{{{late_key}}}' AND recent_trace_keys = '{{}}')) <> 2 \
             THEN RAISE EXCEPTION 'traces not listed as expected'; END IF; END $$"
        ))
        .await;
    for (trace, start) in [(&recent, now), (&late, now), (&callers, now), (&twin, now - chrono::Duration::minutes(10))]
    {
        let r = lookup(&stack.http, &stack.api, &reader, tenant, trace).await;
        assert_eq!(r.status(), 200, "{trace}");
        let body: Value = r.json().await.unwrap();
        let spans = body["spans"].as_array().unwrap();
        assert_eq!(spans.len(), 1, "{trace}: only its own span, and only this tenant's: {spans:#?}");
        let found: chrono::DateTime<chrono::Utc> = spans[0]["start"].as_str().unwrap().parse().unwrap();
        assert_eq!(found.timestamp_micros(), start.timestamp_micros(), "{trace}");
    }
    let other_reader = stack.mint(&other.tenant, &other.client_id, "api.knogin.com", &["traces:read"]).await;
    let r = lookup(&stack.http, &stack.api, &other_reader, other_tenant, &late).await;
    assert_eq!(r.status(), 404, "another tenant's trace");
}

pub(crate) type Exported = Arc<Mutex<Vec<ExportTraceServiceRequest>>>;

/// An OTLP/HTTP collector: decodes every export with the OpenTelemetry
/// protocol types.
pub(crate) async fn collector() -> (String, Exported) {
    let got: Exported = Arc::default();
    let record = got.clone();
    let base = argus_http::testing::serve_route("/v1/traces", move || {
        let record = record.clone();
        web::post().to(move |body: web::Bytes| {
            let record = record.clone();
            async move {
                let request = ExportTraceServiceRequest::decode(body.as_ref()).unwrap();
                record.lock().unwrap().push(request);
                HttpResponse::Ok().content_type("application/x-protobuf").body(Vec::new())
            }
        })
    });
    (base, got)
}

/// An OTLP/gRPC collector on HTTP/2 (h2, cleartext): takes each
/// `TraceService/Export` call's framed request, decodes it with the
/// OpenTelemetry protocol types and answers as a gRPC server does, the
/// status in trailers. Calls that are not a well-formed export are answered
/// with gRPC status 12 (unimplemented) and not recorded.
async fn grpc_collector() -> (String, Exported) {
    let got: Exported = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let record = got.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let record = record.clone();
            tokio::spawn(async move {
                let Ok(mut connection) = h2::server::handshake(socket).await else { return };
                while let Some(Ok((request, mut respond))) = connection.accept().await {
                    let record = record.clone();
                    tokio::spawn(async move {
                        let well_formed = request.uri().path()
                            == "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
                            && request.headers()["content-type"] == "application/grpc"
                            && request.headers()["te"] == "trailers";
                        let mut body = request.into_body();
                        let mut framed = Vec::new();
                        while let Some(Ok(data)) = body.data().await {
                            let _ = body.flow_control().release_capacity(data.len());
                            framed.extend_from_slice(&data);
                        }
                        let decoded = (well_formed
                            && framed.len() >= 5
                            && framed[0] == 0
                            && u32::from_be_bytes(framed[1..5].try_into().unwrap()) as usize == framed.len() - 5)
                            .then(|| ExportTraceServiceRequest::decode(&framed[5..]).ok())
                            .flatten();
                        let head = http::Response::builder()
                            .status(200)
                            .header("content-type", "application/grpc")
                            .body(())
                            .unwrap();
                        let Ok(mut send) = respond.send_response(head, false) else { return };
                        let status = match decoded {
                            Some(request) => {
                                record.lock().unwrap().push(request);
                                let answer = ExportTraceServiceResponse::default().encode_to_vec();
                                let mut frame = vec![0];
                                frame.extend_from_slice(&u32::try_from(answer.len()).unwrap().to_be_bytes());
                                frame.extend_from_slice(&answer);
                                let _ = send.send_data(web::Bytes::from(frame), false);
                                "0"
                            }
                            None => "12",
                        };
                        let mut trailers = http::HeaderMap::new();
                        trailers.insert("grpc-status", http::HeaderValue::from_static(status));
                        let _ = send.send_trailers(trailers);
                    });
                }
            });
        }
    });
    (endpoint, got)
}

#[tokio::test]
async fn spans_are_exported_over_otlp_http_when_an_endpoint_is_set() {
    let stack = Stack::start().await;
    let (endpoint, exported) = collector().await;
    let env = [("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()), ("OTEL_BSP_SCHEDULE_DELAY", "100")];
    a_health_check_is_exported(&stack, &env, &exported).await;
}

#[tokio::test]
async fn spans_are_exported_over_otlp_grpc_when_that_protocol_is_chosen() {
    let stack = Stack::start().await;
    let (endpoint, exported) = grpc_collector().await;
    let env = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
    ];
    a_health_check_is_exported(&stack, &env, &exported).await;
}

/// Starts the api-service with `env`, calls `/healthz` under a trace of the
/// caller's, and checks the span the collector gets, and its resource.
async fn a_health_check_is_exported(stack: &Stack, env: &[(&str, &str)], exported: &Exported) {
    let api = ApiBinary::spawn(stack, env);
    let trace_id = random_hex(16);
    let traceparent = format!("00-{trace_id}-{}-01", random_hex(8));
    let r = stack.http.get(format!("{}/healthz", api.base)).header("traceparent", &traceparent).send().await.unwrap();
    assert_eq!(r.status(), 200);

    let until = Instant::now() + Duration::from_secs(20);
    let (resource, span) = loop {
        let found = exported.lock().unwrap().iter().flat_map(|req| req.resource_spans.clone()).find_map(|rs| {
            let span = rs.scope_spans.iter().flat_map(|ss| ss.spans.clone()).find(|s| hex(&s.trace_id) == trace_id)?;
            Some((rs.resource.clone().unwrap_or_default(), span))
        });
        if let Some(found) = found {
            break found;
        }
        assert!(Instant::now() < until, "no span exported in time");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let attributes = |kvs: &[opentelemetry_proto::tonic::common::v1::KeyValue]| -> HashMap<String, String> {
        kvs.iter()
            .map(|kv| {
                let value = match kv.value.as_ref().and_then(|v| v.value.clone()) {
                    Some(any_value::Value::StringValue(s)) => s,
                    Some(any_value::Value::IntValue(n)) => n.to_string(),
                    other => format!("{other:?}"),
                };
                (kv.key.clone(), value)
            })
            .collect()
    };
    let resource = attributes(&resource.attributes);
    assert_eq!(resource["service.name"], "api-service");
    assert_eq!(resource["deployment.environment.name"], "live");
    assert!(resource.contains_key("service.version"));
    assert_eq!(span.name, "GET /healthz");
    assert_eq!(span.kind, opentelemetry_proto::tonic::trace::v1::span::SpanKind::Server as i32);
    assert_eq!(hex(&span.parent_span_id), traceparent.split('-').nth(2).unwrap());
    let attrs = attributes(&span.attributes);
    assert_eq!(attrs["http.response.status_code"], "200");
    assert_eq!(attrs["http.request.method"], "GET");
    assert_eq!(attrs["http.route"], "/healthz");
}

/// What the binary says on stderr when `env` stops it at start-up (exit
/// status 2, before it touches the database).
fn refused_at_start(env: &[(&str, &str)]) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_api-service"))
        .env("ARGUS_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/unused")
        .env("ARGUS_API_ADDR", "127.0.0.1:0")
        .env("ARGUS_API_ADMIN_ADDR", "127.0.0.1:0")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn an_otlp_protocol_that_is_not_built_in_stops_the_service_at_start_up() {
    // http/json is a valid OTLP protocol, but exporting nothing while the
    // operator expects spans would be worse than not starting.
    let stderr = refused_at_start(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
    ]);
    assert!(stderr.contains("OTEL_EXPORTER_OTLP_PROTOCOL") && stderr.contains("http/json"), "{stderr}");
}

#[test]
fn an_otel_variable_argus_does_not_read_stops_the_service_at_start_up() {
    // The SDK would ignore it; the operator who set it expects it to act.
    let stderr = refused_at_start(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317"),
        ("OTEL_EXPORTER_OTLP_INSECURE", "true"),
    ]);
    assert!(stderr.contains("OTEL_EXPORTER_OTLP_INSECURE not supported"), "{stderr}");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn a_collector_that_never_answers_slows_no_request() {
    let stack = Stack::start().await;
    // Accepts connections and never answers: every export hangs until its
    // (long) timeout, so spans pile up behind the two requests in flight.
    let hanging = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", hanging.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = hanging.accept().await {
            held.push(socket);
        }
    });
    let api = ApiBinary::spawn(
        &stack,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "600000"),
            ("OTEL_BSP_SCHEDULE_DELAY", "10"),
            ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "8"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "64"),
        ],
    );
    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    for round in 0..40 {
        let requests = (0..25).map(|_| {
            let (http, url) = (stack.http.clone(), format!("{}/healthz", api.base));
            async move {
                let sent = Instant::now();
                let r = http.get(url).send().await.unwrap();
                (r.status(), sent.elapsed())
            }
        });
        for (status, took) in futures_util::future::join_all(requests).await {
            assert_eq!(status, 200, "round {round}");
            slowest = slowest.max(took);
        }
    }
    // 1000 requests, each traced and exported to a collector that hangs.
    assert!(slowest < Duration::from_secs(2), "a request waited {slowest:?} for the exporter");
    assert!(started.elapsed() < Duration::from_secs(30));
}
