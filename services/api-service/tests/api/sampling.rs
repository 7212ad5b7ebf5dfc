//! Trace sampling end to end: the caller's flag decides in every service
//! and is forwarded through the outbox and RabbitMQ to the webhook; the
//! traces Argus starts are rate-limited per process; unsampled errors and
//! slow requests are kept within a memory budget; every response says what
//! was decided in `traceresponse`; the lookup tells "not sampled" from "not
//! found". Against real binaries where a process's own sampler matters.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use argus_bus::testing::TestVhost;
use argus_types::{JobId, TenantId};
use serde_json::{Value, json};

use crate::helpers::{ApiBinary, ISSUER, PEPPER, Stack, TestClient, op, sibling_binary, spawn_worker, telemetry};
use crate::tracing::{Exported, collector};

/// `bytes` random bytes as lowercase hex.
fn random_hex(bytes: usize) -> String {
    let ulid = ulid::Ulid::generate().to_bytes();
    ulid[16 - bytes..].iter().map(|b| format!("{b:02x}")).collect()
}

/// A caller's `traceparent` for a new trace: (trace id, header).
fn caller_trace(sampled: bool) -> (String, String) {
    let trace_id = random_hex(16);
    let header = format!("00-{trace_id}-{}-{}", random_hex(8), if sampled { "01" } else { "00" });
    (trace_id, header)
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response.headers().get(name).unwrap_or_else(|| panic!("no {name}")).to_str().unwrap().to_owned()
}

/// `traceresponse` names the response's trace and server span, and the
/// flag decided: returns whether it was sampled.
fn sampled_per_traceresponse(response: &reqwest::Response) -> bool {
    let traceresponse = header(response, "traceresponse");
    let (trace, span) = (header(response, "x-argus-trace-id"), header(response, "x-argus-span-id"));
    let fields: Vec<&str> = traceresponse.split('-').collect();
    assert_eq!(fields[..3], ["00", trace.as_str(), span.as_str()], "{traceresponse}");
    match fields[3] {
        "01" => true,
        "00" => false,
        other => panic!("flags {other} in {traceresponse}"),
    }
}

async fn lookup(stack: &Stack, base: &str, reader: &str, tenant: &TenantId, trace_id: &str) -> reqwest::Response {
    stack
        .http
        .get(format!("{base}/v1/observability/traces/{trace_id}"))
        .bearer_auth(reader)
        .header("X-Tenant-ID", tenant.as_str())
        .send()
        .await
        .unwrap()
}

/// The spans of a trace the lookup returns, once `complete` holds of them
/// (within 20 s).
async fn recorded(
    stack: &Stack,
    base: &str,
    reader: &str,
    tenant: &TenantId,
    trace_id: &str,
    complete: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let until = Instant::now() + Duration::from_secs(20);
    let mut spans = Vec::new();
    loop {
        let r = lookup(stack, base, reader, tenant, trace_id).await;
        if r.status() == 200 {
            spans = r.json::<Value>().await.unwrap()["spans"].as_array().unwrap().clone();
            if complete(&spans) {
                return spans;
            }
        }
        let names: Vec<String> = spans.iter().map(|s| format!("{} {}", s["service"], s["name"])).collect();
        assert!(Instant::now() < until, "trace {trace_id} not recorded in time: {names:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The lookup's 404 problem detail for a trace with no recorded span.
async fn missing(stack: &Stack, base: &str, reader: &str, tenant: &TenantId, trace_id: &str) -> String {
    let r = lookup(stack, base, reader, tenant, trace_id).await;
    assert_eq!(r.status(), 404, "{trace_id}");
    assert_eq!(header(&r, "content-type"), "application/problem+json");
    let problem: Value = r.json().await.unwrap();
    assert_eq!(problem["status"], 404);
    problem["detail"].as_str().unwrap().to_owned()
}

const NOT_SAMPLED: &str = "was not sampled";
const NOT_FOUND: &str = "no trace";

/// The service names of the exported spans of `trace_id`.
fn exported_services(exported: &Exported, trace_id: &str) -> Vec<String> {
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let mut services: Vec<String> = exported
        .lock()
        .unwrap()
        .iter()
        .flat_map(|request| &request.resource_spans)
        .filter(|rs| rs.scope_spans.iter().flat_map(|ss| &ss.spans).any(|s| hex(&s.trace_id) == trace_id))
        .filter_map(|rs| {
            rs.resource.as_ref()?.attributes.iter().find(|kv| kv.key == "service.name")?.value.as_ref().and_then(|v| {
                match &v.value {
                    Some(opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(s)) => Some(s.clone()),
                    _ => None,
                }
            })
        })
        .collect();
    services.sort();
    services.dedup();
    services
}

/// The real auth-service binary over the stack's database, with the
/// in-process one's issuer and pepper, exporting to `endpoint`; killed on
/// drop.
struct AuthBinary {
    child: Child,
    base: String,
}

impl AuthBinary {
    fn spawn(stack: &Stack, endpoint: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let addr = format!("127.0.0.1:{port}");
        let env = [
            ("ARGUS_DATABASE_URL", stack.db.url()),
            ("ARGUS_ISSUER", ISSUER),
            ("ARGUS_SECRET_PEPPER", PEPPER),
            ("ARGUS_AUTH_ADDR", &addr),
            ("ARGUS_AUTH_ADMIN_ADDR", "127.0.0.1:0"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            ("RUST_LOG", "warn"),
        ];
        let quiet = || Stdio::null();
        let child =
            Command::new(sibling_binary("auth-service")).envs(env).stdout(quiet()).stderr(quiet()).spawn().unwrap();
        Self { child, base: format!("http://{addr}") }
    }

    async fn wait_ready(&self, http: &reqwest::Client) {
        let until = Instant::now() + Duration::from_secs(30);
        while !http.get(format!("{}/readyz", self.base)).send().await.is_ok_and(|r| r.status() == 200) {
            assert!(Instant::now() < until, "auth-service did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for AuthBinary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client-credentials token from `auth`, asked for under `traceparent`;
/// the token response must announce the caller's decision.
async fn token_under(stack: &Stack, auth: &str, client: &TestClient, traceparent: &str, sampled: bool) -> String {
    let r = stack
        .http
        .post(format!("{auth}/v1/oauth/token"))
        .basic_auth(&client.client_id, Some(&client.secret))
        .header("traceparent", traceparent)
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(sampled_per_traceresponse(&r), sampled);
    r.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_callers_sampled_flag_decides_in_every_service_and_reaches_the_webhook() {
    let (endpoint, exported) = collector().await;
    let export = [("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()), ("OTEL_BSP_SCHEDULE_DELAY", "100")];
    // This process is the worker (its telemetry writes as delivery-worker);
    // the auth-service and the api-service are binaries of their own.
    let stack = Stack::start_with_telemetry(telemetry("delivery-worker", &export)).await;
    let vhost = TestVhost::create().await;
    let worker = spawn_worker(stack.db.url(), vhost.url());
    let api = ApiBinary::spawn(&stack, &export);
    let auth = AuthBinary::spawn(&stack, &endpoint);
    auth.wait_ready(&stack.http).await;
    let hook = stack.incident_hook().await;
    let client = &hook.client;
    let reader = stack.mint(&client.tenant, &client.client_id, "api.knogin.com", &["traces:read"]).await;

    // One call unsampled, one sampled, each a token request and an
    // incident created under the same trace.
    let mut traces = Vec::new();
    for sampled in [false, true] {
        let (trace_id, traceparent) = caller_trace(sampled);
        let token = token_under(&stack, &auth.base, client, &traceparent, sampled).await;
        let create = json!({
            "id": format!("sha256:{}", op(&hook.ops, "CreateIncident").sha256),
            "variables": { "input": { "title": "Sampled?", "severity": "LOW" } }
        });
        let r = stack
            .http
            .post(format!("{}/graphql", api.base))
            .bearer_auth(&token)
            .header("X-Tenant-ID", client.tenant.as_str())
            .header("traceparent", &traceparent)
            .json(&create)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "x-argus-trace-id"), trace_id);
        assert_eq!(sampled_per_traceresponse(&r), sampled);
        traces.push(trace_id);
    }
    let (unsampled, sampled) = (&traces[0], &traces[1]);

    // The webhooks carry each trace with the decision made for it.
    let deliveries = hook.receiver.wait_for(2, Duration::from_secs(20)).await;
    let mut flags: Vec<(String, String)> = deliveries
        .iter()
        .map(|d| {
            let fields: Vec<String> = d.header("traceparent").split('-').map(str::to_owned).collect();
            (fields[1].clone(), fields[3].clone())
        })
        .collect();
    flags.sort_by_key(|(trace, _)| trace != unsampled);
    assert_eq!(flags, [(unsampled.clone(), "00".to_owned()), (sampled.clone(), "01".to_owned())]);

    // The sampled trace is stored whole: every service, every hop.
    let want = [
        ("auth-service", "POST /v1/oauth/token"),
        ("api-service", "POST /graphql"),
        ("delivery-worker", "publish argus.events"),
        ("delivery-worker", "process argus.fanout"),
        ("delivery-worker", "deliver"),
        ("delivery-worker", "POST"),
    ];
    let spans = recorded(&stack, &api.base, &reader, &client.tenant, sampled, |spans| {
        want.iter().all(|(service, name)| spans.iter().any(|s| s["service"] == *service && s["name"] == *name))
    })
    .await;
    assert!(spans.len() > want.len(), "the database calls too: {spans:#?}");
    // And exported by all three.
    let until = Instant::now() + Duration::from_secs(20);
    while exported_services(&exported, sampled) != ["api-service", "auth-service", "delivery-worker"] {
        assert!(Instant::now() < until, "exported: {:?}", exported_services(&exported, sampled));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The unsampled one ended first, and its spans would have been written
    // and exported before the sampled one's: none was.
    assert_eq!(exported_services(&exported, unsampled), Vec::<String>::new());
    let detail = missing(&stack, &api.base, &reader, &client.tenant, unsampled).await;
    assert!(detail.contains(NOT_SAMPLED), "{detail}");
    let never_seen = random_hex(16);
    let detail = missing(&stack, &api.base, &reader, &client.tenant, &never_seen).await;
    assert!(detail.contains(NOT_FOUND) && !detail.contains(NOT_SAMPLED), "{detail}");
    worker.cancel();
}

/// A tenant's app with `jobs:read`, and tokens for its jobs and its traces.
async fn jobs_reader(stack: &Stack) -> (TenantId, String, String) {
    let client = stack.client(None, &["jobs:read"]).await;
    let jobs = stack.mint(&client.tenant, &client.client_id, "api.knogin.com", &["jobs:read"]).await;
    let traces = stack.mint(&client.tenant, &client.client_id, "api.knogin.com", &["traces:read"]).await;
    (client.tenant, jobs, traces)
}

/// `GET /v1/jobs/{an unknown job}`, under `traceparent` if given.
async fn get_job(
    stack: &Stack,
    base: &str,
    token: &str,
    tenant: &TenantId,
    traceparent: Option<&str>,
) -> reqwest::Response {
    let mut request = stack
        .http
        .get(format!("{base}/v1/jobs/{}", JobId::generate()))
        .bearer_auth(token)
        .header("X-Tenant-ID", tenant.as_str());
    if let Some(traceparent) = traceparent {
        request = request.header("traceparent", traceparent);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn unsampled_errors_and_slow_requests_are_kept_and_other_unsampled_requests_are_not() {
    let stack = Stack::start().await;
    // The binary's own telemetry: the default sampler, keep rule and span store.
    let api = ApiBinary::spawn(&stack, &[]);
    let (tenant, token, reader) = jobs_reader(&stack).await;

    // A fast unsampled request: nothing kept.
    let (fast, traceparent) = caller_trace(false);
    let r = get_job(&stack, &api.base, &token, &tenant, Some(&traceparent)).await;
    assert_eq!(r.status(), 404);
    assert!(!sampled_per_traceresponse(&r));

    // A slow one: the jobs table locked for 1.5 s holds it up past 1 s.
    let lock = stack.db.execute("DO $$ BEGIN LOCK TABLE jobs IN ACCESS EXCLUSIVE MODE; PERFORM pg_sleep(1.5); END $$");
    let (slow, traceparent) = caller_trace(false);
    let held_up = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let started = Instant::now();
        let r = get_job(&stack, &api.base, &token, &tenant, Some(&traceparent)).await;
        (r, started.elapsed())
    };
    let ((), (r, took)) = tokio::join!(lock, held_up);
    assert!(took >= Duration::from_secs(1), "the lock held it up only {took:?}");
    assert_eq!(r.status(), 404);
    assert!(!sampled_per_traceresponse(&r), "kept, but not sampled: the decision was made as it came in");

    // A failed one: the jobs table gone, the read fails with a 500.
    stack.db.execute("ALTER TABLE jobs RENAME TO jobs_away").await;
    let (failed, traceparent) = caller_trace(false);
    let r = get_job(&stack, &api.base, &token, &tenant, Some(&traceparent)).await;
    assert_eq!(r.status(), 500);
    assert!(!sampled_per_traceresponse(&r));

    let server = |spans: &[Value]| spans.iter().find(|s| s["name"] == "GET /v1/jobs/{id}").cloned();
    let whole = |spans: &[Value]| server(spans).is_some() && spans.iter().any(|s| s["kind"] == "client");
    let spans = recorded(&stack, &api.base, &reader, &tenant, &failed, whole).await;
    let root = server(&spans).unwrap();
    assert_eq!(
        (root["status"].as_str(), root["attributes"]["http.response.status_code"].as_i64()),
        (Some("error"), Some(500))
    );
    let spans = recorded(&stack, &api.base, &reader, &tenant, &slow, whole).await;
    assert!(server(&spans).unwrap()["duration_ms"].as_f64().unwrap() >= 1000.0, "{spans:#?}");
    // The kept ones were written after the fast one ended: it was not kept.
    let detail = missing(&stack, &api.base, &reader, &tenant, &fast).await;
    assert!(detail.contains(NOT_SAMPLED), "{detail}");
}

#[tokio::test]
async fn traces_argus_starts_are_all_kept_below_the_rate_limit_and_held_to_it_above() {
    let stack = Stack::start().await;
    let api = ApiBinary::spawn(&stack, &[("ARGUS_TRACE_SAMPLE_PER_SECOND", "5")]);
    let (tenant, token, reader) = jobs_reader(&stack).await;

    // Below the limit (3 a second against 5), every trace is sampled and stored.
    let mut below = Vec::new();
    for _ in 0..6 {
        let r = get_job(&stack, &api.base, &token, &tenant, None).await;
        assert_eq!(r.status(), 404);
        assert!(sampled_per_traceresponse(&r), "below the rate limit");
        below.push(header(&r, "x-argus-trace-id"));
        tokio::time::sleep(Duration::from_millis(333)).await;
    }
    for trace in &below {
        recorded(&stack, &api.base, &reader, &tenant, trace, |spans| !spans.is_empty()).await;
    }

    // Above it: 150 requests as fast as 10 clients go; a second's burst
    // and then 5 a second are sampled, and only they are stored.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let started = Instant::now();
    let clients = (0..10).map(|_| async {
        let mut decided = Vec::new();
        for _ in 0..15 {
            let r = get_job(&stack, &api.base, &token, &tenant, None).await;
            assert_eq!(r.status(), 404);
            decided.push((header(&r, "x-argus-trace-id"), sampled_per_traceresponse(&r)));
        }
        decided
    });
    let decided: Vec<(String, bool)> = futures_util::future::join_all(clients).await.into_iter().flatten().collect();
    let took = started.elapsed().as_secs_f64();
    let sampled: Vec<&String> = decided.iter().filter(|(_, sampled)| *sampled).map(|(trace, _)| trace).collect();
    let allowed = 5.0 + 5.0 * took + 1.0;
    assert!(sampled.len() >= 5 && (sampled.len() as f64) <= allowed, "{} sampled in {took:.2} s", sampled.len());
    assert!(sampled.len() < decided.len() / 2, "{} of {} sampled", sampled.len(), decided.len());
    for trace in sampled {
        recorded(&stack, &api.base, &reader, &tenant, trace, |spans| !spans.is_empty()).await;
    }
    let (unsampled, _) = decided.iter().find(|(_, sampled)| !sampled).unwrap();
    let detail = missing(&stack, &api.base, &reader, &tenant, unsampled).await;
    assert!(detail.contains(NOT_SAMPLED), "{detail}");
}

#[tokio::test]
async fn every_response_says_in_traceresponse_what_was_decided() {
    let stack = Stack::start().await;
    let (sampled_trace, sampled) = caller_trace(true);
    let (unsampled_trace, unsampled) = caller_trace(false);
    for (method, base, path) in [
        ("GET", &stack.api, "/healthz"),
        ("POST", &stack.api, "/graphql"),
        ("GET", &stack.api, "/nowhere"),
        ("DELETE", &stack.api, "/graphql"),
        ("GET", &stack.api, "/v1/observability/traces/x"),
        ("POST", &stack.auth, "/v1/oauth/token"),
        ("GET", &stack.auth, "/.well-known/jwks.json"),
    ] {
        for (trace, traceparent, flag) in [(&sampled_trace, &sampled, true), (&unsampled_trace, &unsampled, false)] {
            let r = stack
                .http
                .request(method.parse().unwrap(), format!("{base}{path}"))
                .header("traceparent", traceparent)
                .send()
                .await
                .unwrap();
            assert_eq!(&header(&r, "x-argus-trace-id"), trace, "{method} {path}");
            assert_eq!(sampled_per_traceresponse(&r), flag, "{method} {path}: {}", r.status());
        }
        // Without traceparent too (the in-process services sample all).
        let r = stack.http.request(method.parse().unwrap(), format!("{base}{path}")).send().await.unwrap();
        assert!(sampled_per_traceresponse(&r), "{method} {path}");
    }
}

#[tokio::test]
async fn an_unsampled_request_over_its_memory_budget_is_dropped_and_counted_even_when_it_fails() {
    // This process's telemetry, with a budget no request's spans fit in.
    let mut config = telemetry("api-service", &[]);
    config.traces.keep_budget_bytes = 1;
    let stack = Stack::start_with_telemetry(config).await;
    let (tenant, token, reader) = jobs_reader(&stack).await;
    let dropped =
        |scrape: &argus_http::testing::Scrape| scrape.value("argus_trace_buffers_dropped_total", &[]).unwrap_or(0.0);
    let before = dropped(&stack.scrape().await);
    stack.db.execute("ALTER TABLE jobs RENAME TO jobs_away").await;
    let (failed, traceparent) = caller_trace(false);
    let r = get_job(&stack, &stack.api, &token, &tenant, Some(&traceparent)).await;
    assert_eq!(r.status(), 500);
    assert!(dropped(&stack.scrape().await) > before, "counted");
    // A sampled request after it is written: the failed one never is.
    let (sampled, traceparent) = caller_trace(true);
    assert_eq!(get_job(&stack, &stack.api, &token, &tenant, Some(&traceparent)).await.status(), 500);
    recorded(&stack, &stack.api, &reader, &tenant, &sampled, |spans| !spans.is_empty()).await;
    let detail = missing(&stack, &stack.api, &reader, &tenant, &failed).await;
    assert!(detail.contains(NOT_SAMPLED), "{detail}");
}
