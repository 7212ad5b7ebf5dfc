//! Webhooks end to end: auth-service on a random port, the delivery worker,
//! a RabbitMQ vhost and a PostgreSQL database of the test's own, and a local
//! receiver. Signatures are checked with the `standardwebhooks` crate, an
//! implementation independent of the signing code.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use argus_bus::testing::{BrokerProxy, TestVhost};
use argus_http::testing::{Scrape, TestProcess};
use argus_store::testing::TestDatabase;
use argus_store::{PageRequest, Store};
use argus_types::{EventId, TenantId, WebhookId};
use delivery_worker::{WorkerConfig, parse_schedule};
use serde_json::{Value, json};
use support::{Hanging, Receiver, Timed, spawn_auth, start_worker, verify, worker_command};

const PEPPER: &str = "worker-test-pepper";
const DELIVERIES: &str = "argus_deliveries_total";

struct Stack {
    db: TestDatabase,
    vhost: TestVhost,
    store: Store,
    auth: String,
    http: reqwest::Client,
}

fn worker_config(db: &str, amqp: &str, schedule: &str, allow_private: bool) -> WorkerConfig {
    WorkerConfig {
        retry_schedule: parse_schedule(schedule).unwrap(),
        allow_private,
        ..support::worker_config(db, amqp, PEPPER)
    }
}

impl Stack {
    async fn start() -> Self {
        argus_telemetry::init(argus_telemetry::LogFormat::Pretty, "warn");
        let (db, vhost) = tokio::join!(TestDatabase::create(), TestVhost::create());
        let auth = spawn_auth(db.url(), PEPPER, true).await;
        Self { store: db.store(), db, vhost, auth, http: reqwest::Client::new() }
    }

    /// Starts a worker in this process; cancel its token to stop it.
    fn worker(&self, schedule: &str) -> argus_bus::CancellationToken {
        self.worker_with(|_| {}, schedule)
    }

    /// Like [`Stack::worker`], with `adjust` applied to its config.
    fn worker_with(&self, adjust: impl FnOnce(&mut WorkerConfig), schedule: &str) -> argus_bus::CancellationToken {
        self.worker_and_admin(adjust, schedule).0
    }

    /// Like [`Stack::worker_with`]; also returns the base URL of the
    /// worker's admin address.
    fn worker_and_admin(
        &self,
        adjust: impl FnOnce(&mut WorkerConfig),
        schedule: &str,
    ) -> (argus_bus::CancellationToken, String) {
        let mut config = worker_config(self.db.url(), self.vhost.url(), schedule, true);
        adjust(&mut config);
        start_worker(config)
    }

    /// The worker's metrics at `admin`.
    async fn scrape(&self, admin: &str) -> Scrape {
        let r = self.http.get(format!("{admin}/metrics")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        Scrape::parse(&r.text().await.unwrap())
    }

    /// The real worker binary against this stack, 4 deliveries at a time.
    fn worker_binary(&self) -> TestProcess {
        TestProcess::spawn(worker_command(self.db.url(), self.vhost.url(), PEPPER).env("ARGUS_WORKER_CONCURRENCY", "4"))
            .unwrap()
    }

    async fn token(&self, tenant: &TenantId, scopes: &[&str]) -> String {
        support::token(&self.store, tenant, "app_test", scopes).await
    }

    async fn tenant(&self) -> (TenantId, String) {
        let tenant = self.store.create_tenant("t").await.unwrap().id;
        let token = self.token(&tenant, &["webhooks:read", "webhooks:write"]).await;
        (tenant, token)
    }

    async fn call(&self, method: reqwest::Method, token: &str, path: &str, body: Option<Value>) -> reqwest::Response {
        let mut req = self.http.request(method, format!("{}{path}", self.auth)).bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.unwrap()
    }

    async fn webhook(&self, token: &str, url: &str, events: &[&str]) -> (String, String) {
        let r =
            self.call(reqwest::Method::POST, token, "/v1/webhooks", Some(json!({"url": url, "events": events}))).await;
        assert_eq!(r.status(), 201);
        let v: Value = r.json().await.unwrap();
        (v["id"].as_str().unwrap().to_owned(), v["secret"].as_str().unwrap().to_owned())
    }

    /// A receiver answering `script` (then 200) at once, and a webhook of
    /// `token`'s tenant sending it `events`: (receiver, webhook id, secret).
    async fn subscribed(&self, token: &str, script: Vec<u16>, events: &[&str]) -> (Receiver, String, String) {
        let receiver = Receiver::start(script, Duration::ZERO).await;
        let (webhook, secret) = self.webhook(token, &receiver.url, events).await;
        (receiver, webhook, secret)
    }

    /// `count` events of `event_type`, each with data `{"n": i}`; their ids.
    async fn emit_numbered(&self, tenant: &TenantId, event_type: &str, count: usize) -> Vec<String> {
        let mut ids = Vec::new();
        for n in 0..count {
            ids.push(self.emit(tenant, event_type, json!({ "n": n })).await.to_string());
        }
        ids
    }

    async fn emit(&self, tenant: &TenantId, event_type: &str, data: Value) -> EventId {
        support::emit(&self.store, tenant, event_type, data).await
    }

    async fn deliveries(&self, token: &str, webhook: &str, query: &str) -> Vec<Value> {
        let r =
            self.call(reqwest::Method::GET, token, &format!("/v1/webhooks/{webhook}/deliveries{query}"), None).await;
        assert_eq!(r.status(), 200);
        r.json::<Value>().await.unwrap()["deliveries"].as_array().unwrap().clone()
    }

    /// Waits until `webhook` has `n` deliveries in `status`; returns them.
    async fn wait_deliveries(
        &self,
        token: &str,
        webhook: &str,
        status: &str,
        n: usize,
        within: Duration,
    ) -> Vec<Value> {
        let until = Instant::now() + within;
        loop {
            let found = self.deliveries(token, webhook, &format!("?status={status}")).await;
            if found.len() >= n {
                return found;
            }
            assert!(Instant::now() < until, "{} of {n} {status} deliveries in time: {found:?}", found.len());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn wait_delivery(&self, token: &str, webhook: &str, status: &str, within: Duration) -> Value {
        let until = Instant::now() + within;
        loop {
            let all = self.deliveries(token, webhook, "").await;
            if let Some(d) = all.iter().find(|d| d["status"] == status) {
                return d.clone();
            }
            assert!(Instant::now() < until, "no {status} delivery in time: {all:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test]
async fn an_event_reaches_the_receiver_signed_and_recorded() {
    let stack = Stack::start().await;
    let _worker = stack.worker("0.2,0.2");
    let (tenant, token) = stack.tenant().await;
    let (receiver, webhook, secret) = stack.subscribed(&token, vec![], &["incident.updated"]).await;
    assert!(secret.starts_with("whsec_"));
    stack.emit(&tenant, "incident.closed", json!({"incident_id": "inc_1"})).await; // not subscribed
    let event = stack.emit(&tenant, "incident.updated", json!({"incident_id": "inc_1", "status": "open"})).await;

    let got = receiver.wait_for(1, Duration::from_secs(15)).await;
    assert_eq!(got.len(), 1, "exactly the subscribed event");
    let r = &got[0];
    verify(&secret, r);
    assert_eq!(r.header("webhook-id"), event.as_str());
    assert!(r.header("webhook-signature").starts_with("v1,"));
    assert_eq!(r.header("content-type"), "application/json");
    let body = r.json();
    assert_eq!(body["id"], event.as_str());
    assert_eq!(body["type"], "incident.updated");
    assert_eq!(body["tenant_id"], tenant.as_str());
    assert_eq!(body["data"]["status"], "open");
    assert!(body["created_at"].is_string());

    let d = stack.wait_delivery(&token, &webhook, "succeeded", Duration::from_secs(5)).await;
    assert!(d["id"].as_str().unwrap().starts_with("dlv_"));
    assert_eq!(d["event_id"], event.as_str());
    assert_eq!(d["event_type"], "incident.updated");
    assert_eq!(d["attempts"], 1);
    assert_eq!(d["response_status"], 200);
    assert!(d["duration_ms"].is_number() && d["attempted_at"].is_string());
    assert_eq!(d["response_body"], "answered 200");
}

#[tokio::test]
async fn a_new_event_is_sent_from_its_message_without_reading_its_row() {
    let stack = Stack::start().await;
    let (tenant, token) = stack.tenant().await;
    let (receiver, webhook, secret) = stack.subscribed(&token, vec![], &["incident.updated"]).await;
    let event = stack.emit(&tenant, "incident.updated", json!({"incident_id": "inc_1", "status": "open"})).await;
    // Before any worker runs, the event's row goes: only its message is
    // left to send it from.
    stack.db.execute(&format!("DELETE FROM events WHERE id = '{event}'")).await;
    let _worker = stack.worker("0.2");

    let got = receiver.wait_for(1, Duration::from_secs(15)).await;
    let body = verify(&secret, &got[0]);
    assert_eq!(body["id"], event.as_str());
    assert_eq!(body["data"]["status"], "open");
    let d = stack.wait_delivery(&token, &webhook, "succeeded", Duration::from_secs(5)).await;
    assert_eq!(d["event_id"], event.as_str());
}

#[tokio::test]
async fn a_change_to_a_tenants_webhooks_applies_to_the_very_next_event() {
    let stack = Stack::start().await;
    let _worker = stack.worker("0.2");
    let (tenant, token) = stack.tenant().await;
    let (first, webhook, _) = stack.subscribed(&token, vec![], &["incident.updated"]).await;
    stack.emit(&tenant, "incident.updated", json!({"n": 1})).await;
    first.wait_for(1, Duration::from_secs(15)).await;
    stack.wait_delivery(&token, &webhook, "succeeded", Duration::from_secs(5)).await;
    // The worker now keeps the tenant's webhooks; its record of a success
    // (the webhook's health) is no change to them.
    let kept = stack.store.enabled_webhooks(&tenant).await.unwrap().unwrap();
    assert_eq!((kept.version, kept.enabled.len()), (1, 1), "one change: the webhook's creation");
    let path = format!("/v1/webhooks/{webhook}");
    let put = |body: Value| stack.call(reqwest::Method::PUT, &token, &path, Some(body));

    // Each change is followed at once by an event, which must see it.
    let second = Receiver::start(vec![], Duration::ZERO).await;
    assert_eq!(put(json!({"url": second.url})).await.status(), 200);
    stack.emit(&tenant, "incident.updated", json!({"n": 2})).await;
    assert_eq!(second.wait_for(1, Duration::from_secs(15)).await[0].json()["data"]["n"], 2, "sent to the new URL");

    let new_secret = argus_crypto::webhook::generate_webhook_secret();
    assert_eq!(put(json!({"secret": new_secret})).await.status(), 200);
    stack.emit(&tenant, "incident.updated", json!({"n": 3})).await;
    verify(&new_secret, &second.wait_for(2, Duration::from_secs(15)).await[1]);

    let (third, third_hook, _) = stack.subscribed(&token, vec![], &["incident.updated"]).await;
    stack.emit(&tenant, "incident.updated", json!({"n": 4})).await;
    assert_eq!(third.wait_for(1, Duration::from_secs(15)).await[0].json()["data"]["n"], 4, "a new webhook");
    second.wait_for(3, Duration::from_secs(15)).await;

    assert_eq!(put(json!({"enabled": false})).await.status(), 200);
    stack.emit(&tenant, "incident.updated", json!({"n": 5})).await;
    third.wait_for(2, Duration::from_secs(15)).await;

    let r = stack.call(reqwest::Method::DELETE, &token, &format!("/v1/webhooks/{third_hook}"), None).await;
    assert_eq!(r.status(), 204);
    let (fourth, _, _) = stack.subscribed(&token, vec![], &["incident.updated"]).await;
    stack.emit(&tenant, "incident.updated", json!({"n": 6})).await;
    fourth.wait_for(1, Duration::from_secs(15)).await;

    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(first.received().len(), 1, "nothing more to the old URL");
    assert_eq!(second.received().len(), 3, "nothing to the paused webhook");
    assert_eq!(third.received().len(), 2, "nothing to the deleted webhook");
}

#[tokio::test]
async fn deleting_a_webhook_deletes_its_deliveries_and_their_attempts() {
    let stack = Stack::start().await;
    let _worker = stack.worker("0.2");
    let (tenant, token) = stack.tenant().await;
    let (_receiver, doomed, _) = stack.subscribed(&token, vec![], &["incident.updated"]).await;
    let (_other_receiver, kept, _) = stack.subscribed(&token, vec![], &["incident.updated"]).await;
    stack.emit(&tenant, "incident.updated", json!({"incident_id": "inc_1"})).await;
    stack.wait_delivery(&token, &doomed, "succeeded", Duration::from_secs(10)).await;
    stack.wait_delivery(&token, &kept, "succeeded", Duration::from_secs(10)).await;
    let doomed_id = doomed.parse::<WebhookId>().unwrap();
    let kept_id = kept.parse::<WebhookId>().unwrap();
    assert_eq!(stack.store.delivery_rows_of(&doomed_id).await.unwrap(), (1, 1));

    let r = stack.call(reqwest::Method::DELETE, &token, &format!("/v1/webhooks/{doomed}"), None).await;
    assert_eq!(r.status(), 204);
    assert_eq!(stack.store.delivery_rows_of(&doomed_id).await.unwrap(), (0, 0), "nothing left behind");
    assert_eq!(stack.store.delivery_rows_of(&kept_id).await.unwrap(), (1, 1), "the other webhook's history is kept");
}

#[tokio::test]
async fn a_slow_endpoint_does_not_hold_up_the_others() {
    let stack = Stack::start().await;
    let _worker = stack.worker("0.2");
    let (tenant, token) = stack.tenant().await;
    // Slow, but inside the worker's 5 s request timeout.
    let slow = Receiver::start(vec![], Duration::from_secs(4)).await;
    let fast = Receiver::start(vec![], Duration::ZERO).await;
    let (slow_hook, _) = stack.webhook(&token, &slow.url, &["incident.created"]).await;
    let (fast_hook, _) = stack.webhook(&token, &fast.url, &["incident.created"]).await;
    let started = Instant::now();
    for i in 0..3 {
        stack.emit(&tenant, "incident.created", json!({"n": i})).await;
    }
    // The fast receiver gets every event, each recorded as delivered, while
    // the slow one is still answering the same events.
    let budget = Duration::from_millis(3500);
    assert_eq!(fast.wait_for(3, budget).await.len(), 3);
    stack.wait_deliveries(&token, &fast_hook, "succeeded", 3, budget.saturating_sub(started.elapsed())).await;
    assert!(slow.received().is_empty(), "the slow receiver has not answered yet");
    assert!(stack.deliveries(&token, &slow_hook, "?status=succeeded").await.is_empty());
    // And the slow receiver's deliveries complete in their turn.
    assert_eq!(slow.wait_for(3, Duration::from_secs(15)).await.len(), 3);
    stack.wait_delivery(&token, &slow_hook, "succeeded", Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_busy_endpoint_takes_only_its_share_of_the_worker() {
    let stack = Stack::start().await;
    // Two events in flight at once; one request at a time per webhook.
    let _worker = stack.worker_with(
        |c| {
            c.concurrency = 2;
            c.per_webhook_in_flight = 1;
        },
        "0.2",
    );
    let (tenant, token) = stack.tenant().await;
    let slow = Receiver::start(vec![], Duration::from_millis(1500)).await;
    let fast = Receiver::start(vec![], Duration::ZERO).await;
    let (slow_hook, _) = stack.webhook(&token, &slow.url, &["case.updated"]).await;
    stack.webhook(&token, &fast.url, &["case.closed"]).await;
    for i in 0..4 {
        stack.emit(&tenant, "case.updated", json!({"n": i})).await;
    }
    let started = Instant::now();
    stack.emit(&tenant, "case.closed", json!({})).await;
    // Without the cap, the slow webhook's events would fill both slots for
    // 1.5 s; with it, the fast webhook's event goes through at once.
    assert_eq!(fast.wait_for(1, Duration::from_secs(1)).await.len(), 1);
    assert!(started.elapsed() < Duration::from_secs(1), "held up by a busy endpoint");
    // The slow webhook's deliveries waited their turn, unattempted, one at
    // a time: each is delivered on its first attempt.
    assert_eq!(slow.wait_for(4, Duration::from_secs(20)).await.len(), 4);
    let done = stack.wait_deliveries(&token, &slow_hook, "succeeded", 4, Duration::from_secs(5)).await;
    assert!(done.iter().all(|d| d["attempts"] == 1), "{done:?}");
}

const DEFERRED: &str = "argus_deliveries_deferred_total";

/// 200 events written while no worker runs reach the worker at once, as
/// many as it prefetches, for one webhook whose receiver answers at once:
/// past the webhook's cap they wait in the worker for a slot instead of
/// going round the 1 s delay queue, and the cap rises to the tenant's.
#[tokio::test]
async fn a_burst_to_one_fast_endpoint_is_not_held_back_by_the_caps() {
    const EVENTS: usize = 200;
    let stack = Stack::start().await;
    let (tenant, token) = stack.tenant().await;
    let receiver = Timed::start(Duration::from_millis(20)).await;
    let (webhook, _) = stack.webhook(&token, &receiver.url, &["incident.updated"]).await;
    for n in 0..EVENTS {
        stack.emit(&tenant, "incident.updated", json!({"n": n})).await;
    }
    // The defaults: 64 events at once, 8 requests per webhook to start
    // with, 16 per tenant.
    let (_worker, admin) = stack.worker_and_admin(
        |c| {
            c.concurrency = 64;
            c.per_webhook_in_flight = 8;
            c.per_tenant_in_flight = 16;
        },
        "0.2",
    );
    let arrivals = receiver.wait_for(EVENTS, Duration::from_secs(60)).await;
    assert_eq!(arrivals.len(), EVENTS, "every event delivered, once");

    // No delivery waited a second, from its creation by the fan-out to its
    // request's arrival; a deferred one would have waited at least that.
    let webhook = webhook.parse().unwrap();
    let filter = argus_store::webhooks::DeliveryFilter::default();
    let until = Instant::now() + Duration::from_secs(15);
    let deliveries = loop {
        let all = stack
            .store
            .list_deliveries(&tenant, &webhook, &filter, &PageRequest { after: None, limit: 1000 })
            .await
            .unwrap()
            .items;
        if all.len() == EVENTS && all.iter().all(|d| d.status == argus_domain::DeliveryStatus::Succeeded) {
            break all;
        }
        assert!(Instant::now() < until, "not all recorded as succeeded: {all:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let arrived: HashMap<String, chrono::DateTime<chrono::Utc>> = arrivals.into_iter().collect();
    let mut slowest = chrono::TimeDelta::zero();
    for d in &deliveries {
        assert_eq!(d.attempts, 1, "{d:?}");
        let waited = arrived[d.event_id.as_str()] - d.created_at;
        slowest = slowest.max(waited);
    }
    assert!(slowest < chrono::TimeDelta::seconds(1), "a delivery waited {slowest}");
    let scrape = stack.scrape(&admin).await;
    let succeeded = [("kind", "webhook"), ("outcome", "succeeded")];
    assert_eq!(scrape.value(DELIVERIES, &succeeded), Some(EVENTS as f64));
    assert_eq!(scrape.value(DEFERRED, &[]).unwrap_or(0.0), 0.0, "no delivery went round the delay queue");
    assert_eq!(scrape.expect("argus_deliveries_waiting", &[]), 0.0);
    // The webhook's limit rose past its configured 8, up to its tenant's 16.
    let most = receiver.most_open();
    assert!((9..=16).contains(&most), "{most} requests at once");
}

/// A webhook whose endpoint never answers (each request times out after
/// 1 s) is soon held to one request at a time, its other deliveries
/// deferred at once rather than waiting; another webhook of the same
/// tenant, and another tenant, still get theirs at once.
#[tokio::test]
async fn a_hanging_endpoints_cap_shrinks_and_it_holds_up_no_one() {
    const PROMPT: Duration = Duration::from_secs(2);
    let stack = Stack::start().await;
    let (_worker, admin) = stack.worker_and_admin(
        |c| {
            c.request_timeout = Duration::from_secs(1);
            c.per_webhook_in_flight = 8;
        },
        "30",
    );
    let (tenant, token) = stack.tenant().await;
    let stuck = Hanging::start().await;
    stack.webhook(&token, &stuck.url("/hook"), &["case.updated"]).await;
    for n in 0..40 {
        stack.emit(&tenant, "case.updated", json!({"n": n})).await;
    }
    // Eight at first, the configured cap.
    assert_eq!(stuck.wait_for(8, Duration::from_secs(10)).await.len(), 8);
    // Timeouts halve the cap, to one request at a time.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let mut most = 0;
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        most = most.max(stuck.open());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(most <= 2, "{most} requests at once to an endpoint that never answers");
    let sent = stuck.paths().len();
    assert!(sent < 8 + 10, "{sent} requests: the cap did not shrink");
    let scrape = stack.scrape(&admin).await;
    assert!(scrape.expect(DEFERRED, &[]) > 0.0, "the rest were deferred");

    // The same tenant's other webhook, and another tenant's, at once.
    let fast = Receiver::start(vec![], Duration::ZERO).await;
    stack.webhook(&token, &fast.url, &["case.closed"]).await;
    let (other, other_token) = stack.tenant().await;
    let elsewhere = Receiver::start(vec![], Duration::ZERO).await;
    stack.webhook(&other_token, &elsewhere.url, &["case.closed"]).await;
    let started = Instant::now();
    stack.emit(&tenant, "case.closed", json!({})).await;
    stack.emit(&other, "case.closed", json!({})).await;
    assert_eq!(fast.wait_for(1, PROMPT).await.len(), 1, "the tenant's other webhook held up");
    assert_eq!(elsewhere.wait_for(1, PROMPT).await.len(), 1, "another tenant held up");
    assert!(started.elapsed() < PROMPT, "took {:?}", started.elapsed());
}

#[tokio::test]
async fn one_event_to_several_webhooks_records_each_outcome_on_its_own() {
    let stack = Stack::start().await;
    let _worker = stack.worker("0.2");
    let (tenant, token) = stack.tenant().await;
    let ok = Receiver::start(vec![200], Duration::ZERO).await;
    let flaky = Receiver::start(vec![500, 200], Duration::ZERO).await;
    let gone = Receiver::start(vec![410], Duration::ZERO).await;
    let (ok_hook, _) = stack.webhook(&token, &ok.url, &["case.created"]).await;
    let (flaky_hook, _) = stack.webhook(&token, &flaky.url, &["case.created"]).await;
    let (gone_hook, _) = stack.webhook(&token, &gone.url, &["case.created"]).await;
    let (_other_tenant, other_token) = stack.tenant().await;
    let other = Receiver::start(vec![], Duration::ZERO).await;
    stack.webhook(&other_token, &other.url, &["case.created"]).await;
    let event = stack.emit(&tenant, "case.created", json!({"case_id": "case_1"})).await;

    // All three first attempts are made together; only the flaky one retries.
    let d = stack.wait_delivery(&token, &ok_hook, "succeeded", Duration::from_secs(15)).await;
    assert_eq!((d["attempts"].as_i64(), d["event_id"].as_str()), (Some(1), Some(event.as_str())));
    let d = stack.wait_delivery(&token, &gone_hook, "failed", Duration::from_secs(15)).await;
    assert_eq!((d["attempts"].as_i64(), d["response_status"].as_i64()), (Some(1), Some(410)));
    let d = stack.wait_delivery(&token, &flaky_hook, "succeeded", Duration::from_secs(15)).await;
    assert_eq!(d["attempts"], 2, "the 500 was retried through the deliveries queue");
    for r in flaky.received() {
        assert_eq!(r.header("webhook-id"), event.as_str());
    }
    // Each webhook's health follows its own outcome.
    for (hook, enabled) in [(&ok_hook, true), (&flaky_hook, true), (&gone_hook, false)] {
        let path = format!("/v1/webhooks/{hook}");
        let w: Value = stack.call(reqwest::Method::GET, &token, &path, None).await.json().await.unwrap();
        assert_eq!(w["enabled"], enabled, "{w}");
        if !enabled {
            assert!(w["disabled_reason"].as_str().unwrap().contains("410"), "{w}");
        }
    }
    assert_eq!(ok.received().len(), 1);
    assert_eq!(gone.received().len(), 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(other.received().is_empty(), "another tenant's webhook gets nothing");
}

#[tokio::test]
async fn failures_retry_until_success_with_the_same_webhook_id() {
    let stack = Stack::start().await;
    let _worker = stack.worker("0.2,0.2,0.2");
    let (tenant, token) = stack.tenant().await;
    let (receiver, webhook, secret) = stack.subscribed(&token, vec![500, 500, 200], &["case.updated"]).await;
    // Keys out of order, numbers and text PostgreSQL's jsonb rewrites
    // (it keeps no negative zero, so that alone would differ).
    let data = json!({"case_id": "case_1", "a": [1.5, 1e-7, 12345678901234567u64], "Z": {"b": null, "a": "é\u{2028}"}});
    let event = stack.emit(&tenant, "case.updated", data).await;

    let got = receiver.wait_for(3, Duration::from_secs(20)).await;
    assert_eq!(got.len(), 3);
    for r in &got {
        verify(&secret, r);
        assert_eq!(r.header("webhook-id"), event.as_str());
        // The first attempt sends the envelope from the event's message,
        // the retries from its row: the same bytes.
        assert_eq!(r.body, got[0].body);
    }
    let d = stack.wait_delivery(&token, &webhook, "succeeded", Duration::from_secs(5)).await;
    assert_eq!(d["attempts"], 3);
    let attempts = stack.store.delivery_attempts(&tenant, &d["id"].as_str().unwrap().parse().unwrap()).await.unwrap();
    let statuses: Vec<Option<i32>> = attempts.iter().map(|a| a.response_status).collect();
    assert_eq!(statuses, vec![Some(500), Some(500), Some(200)]);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(receiver.received().len(), 3, "no attempt after the success");
    let retrying = stack.deliveries(&token, &webhook, "?status=retrying").await;
    assert!(retrying.is_empty());
}

#[tokio::test]
async fn a_huge_retry_after_is_clamped_to_the_schedule_and_sent_once_per_attempt() {
    let stack = Stack::start().await;
    let _worker = stack.worker("0.3,2");
    let (tenant, token) = stack.tenant().await;
    let receiver =
        Receiver::start_with_headers(vec![503; 10], Duration::ZERO, &[("retry-after", "10000000000000")]).await;
    let (webhook, _) = stack.webhook(&token, &receiver.url, &["case.updated"]).await;
    let event = stack.emit(&tenant, "case.updated", json!({})).await;

    // Rescheduled, by at most the longest step (2 s, +10 % jitter), not by
    // the 317 000 years asked for.
    let retrying = stack.wait_delivery(&token, &webhook, "retrying", Duration::from_secs(10)).await;
    let at = |field: &str| chrono::DateTime::parse_from_rfc3339(retrying[field].as_str().unwrap()).unwrap();
    let wait = at("next_attempt_at") - at("attempted_at");
    assert!(wait > chrono::TimeDelta::zero() && wait <= chrono::TimeDelta::milliseconds(2_200), "{retrying}");

    let d = stack.wait_delivery(&token, &webhook, "failed", Duration::from_secs(20)).await;
    assert_eq!(d["attempts"], 3, "the first attempt and the schedule's two retries");
    tokio::time::sleep(Duration::from_millis(800)).await;
    let got = receiver.received();
    assert_eq!(got.len(), 3, "one request per attempt, no redelivery storm");
    assert!(got.iter().all(|r| r.header("webhook-id") == event.as_str()));
}

#[tokio::test]
async fn exhausted_deliveries_fail_and_a_410_disables_the_webhook() {
    let stack = Stack::start().await;
    let _worker = stack.worker("0.2");
    let (tenant, token) = stack.tenant().await;
    let (_failing, webhook, _) = stack.subscribed(&token, vec![500; 10], &["case.closed"]).await;
    stack.emit(&tenant, "case.closed", json!({})).await;
    let d = stack.wait_delivery(&token, &webhook, "failed", Duration::from_secs(20)).await;
    assert_eq!(d["attempts"], 2, "the first attempt and one retry");
    assert_eq!(d["response_status"], 500);
    assert!(d["error"].as_str().unwrap().contains("500"));

    let (gone, webhook, _) = stack.subscribed(&token, vec![410], &["case.created"]).await;
    stack.emit(&tenant, "case.created", json!({})).await;
    stack.wait_delivery(&token, &webhook, "failed", Duration::from_secs(15)).await;
    let w: Value =
        stack.call(reqwest::Method::GET, &token, &format!("/v1/webhooks/{webhook}"), None).await.json().await.unwrap();
    assert_eq!(w["enabled"], false);
    assert!(w["disabled_reason"].as_str().unwrap().contains("410"));
    stack.emit(&tenant, "case.created", json!({})).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(gone.received().len(), 1, "a disabled webhook gets nothing more");

    // A webhook that has failed for five days is disabled by its next failure.
    let (_flaky, webhook, _) = stack.subscribed(&token, vec![503; 10], &["incident.closed"]).await;
    stack
        .db
        .execute(&format!("UPDATE webhooks SET failing_since = now() - interval '6 days' WHERE id = '{webhook}'"))
        .await;
    stack.emit(&tenant, "incident.closed", json!({})).await;
    let until = Instant::now() + Duration::from_secs(15);
    loop {
        let w: Value = stack
            .call(reqwest::Method::GET, &token, &format!("/v1/webhooks/{webhook}"), None)
            .await
            .json()
            .await
            .unwrap();
        if w["enabled"] == false {
            assert!(w["disabled_reason"].as_str().unwrap().contains("5 days"), "{w}");
            break;
        }
        assert!(Instant::now() < until, "not disabled after five failing days: {w}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn test_deliveries_manual_resends_and_secret_rotation() {
    let stack = Stack::start().await;
    let _worker = stack.worker("0.2");
    let (_, token) = stack.tenant().await;
    let (receiver, webhook, old_secret) = stack.subscribed(&token, vec![], &["incident.created"]).await;

    let r = stack.call(reqwest::Method::POST, &token, &format!("/v1/webhooks/{webhook}/test"), None).await;
    assert_eq!(r.status(), 202);
    let queued: Value = r.json().await.unwrap();
    assert_eq!(queued["status"], "queued");
    let delivery = queued["delivery_id"].as_str().unwrap().to_owned();
    let got = receiver.wait_for(1, Duration::from_secs(15)).await;
    assert_eq!(got[0].json()["type"], "webhook.test");
    verify(&old_secret, &got[0]);

    stack.wait_delivery(&token, &webhook, "succeeded", Duration::from_secs(5)).await;
    let r = stack
        .call(reqwest::Method::POST, &token, &format!("/v1/webhooks/{webhook}/deliveries/{delivery}/retry"), None)
        .await;
    assert_eq!(r.status(), 202);
    let got = receiver.wait_for(2, Duration::from_secs(15)).await;
    assert_eq!(got[1].header("webhook-id"), got[0].header("webhook-id"), "a resend keeps the webhook-id");
    assert_eq!(got[1].body, got[0].body);
    stack.wait_delivery(&token, &webhook, "succeeded", Duration::from_secs(5)).await;

    let new_secret = argus_crypto::webhook::generate_webhook_secret();
    let r = stack
        .call(reqwest::Method::PUT, &token, &format!("/v1/webhooks/{webhook}"), Some(json!({"secret": new_secret})))
        .await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().find("whsec_").is_none(), "no secret in the response");
    stack.call(reqwest::Method::POST, &token, &format!("/v1/webhooks/{webhook}/test"), None).await;
    let got = receiver.wait_for(3, Duration::from_secs(15)).await;
    let rotated = &got[2];
    assert_eq!(rotated.header("webhook-signature").split(' ').count(), 2, "signed with both keys during the overlap");
    verify(&old_secret, rotated);
    verify(&new_secret, rotated);
}

#[tokio::test]
async fn webhook_routes_validate_and_isolate_tenants() {
    let stack = Stack::start().await;
    let (tenant_a, a) = stack.tenant().await;
    let (_, b) = stack.tenant().await;
    let (receiver, webhook, _) = stack.subscribed(&a, vec![], &["incident.updated"]).await;
    let list: Value = stack.call(reqwest::Method::GET, &a, "/v1/webhooks", None).await.json().await.unwrap();
    assert_eq!(list["webhooks"].as_array().unwrap().len(), 1);
    assert!(!list.to_string().contains("whsec_"));
    let catalog: Value =
        stack.call(reqwest::Method::GET, &a, "/v1/webhooks/event-types", None).await.json().await.unwrap();
    assert!(catalog["event_types"].as_array().unwrap().iter().any(|e| e["name"] == "job.succeeded"));

    for (method, path, body) in [
        (reqwest::Method::GET, format!("/v1/webhooks/{webhook}"), None),
        (reqwest::Method::PUT, format!("/v1/webhooks/{webhook}"), Some(json!({"events": ["case.closed"]}))),
        (reqwest::Method::DELETE, format!("/v1/webhooks/{webhook}"), None),
        (reqwest::Method::GET, format!("/v1/webhooks/{webhook}/deliveries"), None),
        (reqwest::Method::POST, format!("/v1/webhooks/{webhook}/test"), None),
        (
            reqwest::Method::POST,
            format!("/v1/webhooks/{webhook}/deliveries/dlv_00000000000000000000000000/retry"),
            None,
        ),
    ] {
        let r = stack.call(method.clone(), &b, &path, body).await;
        assert_eq!(r.status(), 404, "{method} {path} for another tenant");
    }
    let list_b: Value = stack.call(reqwest::Method::GET, &b, "/v1/webhooks", None).await.json().await.unwrap();
    assert!(list_b["webhooks"].as_array().unwrap().is_empty());
    let still: Value =
        stack.call(reqwest::Method::GET, &a, &format!("/v1/webhooks/{webhook}"), None).await.json().await.unwrap();
    assert_eq!(still["events"], json!(["incident.updated"]), "B changed nothing");
    let _ = tenant_a;

    let read_only = stack.token(&stack.store.create_tenant("r").await.unwrap().id, &["webhooks:read"]).await;
    let r = stack
        .call(
            reqwest::Method::POST,
            &read_only,
            "/v1/webhooks",
            Some(json!({"url": receiver.url, "events": ["case.closed"]})),
        )
        .await;
    assert_eq!(r.status(), 403);

    let bad = [
        (
            json!({"url": receiver.url, "events": ["incident.updated", "nope.nothing"]}),
            "unknown event types: nope.nothing",
        ),
        (json!({"url": receiver.url, "events": []}), "at least one event type"),
        (json!({"url": "not a url", "events": ["case.closed"]}), "not an absolute URL"),
        (json!({"url": receiver.url, "events": ["case.closed"], "secret": "plain"}), "whsec_"),
        (json!({"url": receiver.url, "events": ["case.closed"], "secret": "whsec_c2hvcnQ="}), "24 to 64 bytes"),
    ];
    for (body, expected) in bad {
        let r = stack.call(reqwest::Method::POST, &a, "/v1/webhooks", Some(body.clone())).await;
        assert_eq!(r.status(), 400, "{body}");
        let p: Value = r.json().await.unwrap();
        assert!(p["detail"].as_str().unwrap().contains(expected), "{body}: {p}");
    }
    let r =
        stack.call(reqwest::Method::GET, &a, &format!("/v1/webhooks/{webhook}/deliveries?status=weird"), None).await;
    assert_eq!(r.status(), 400);
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["detail"], "status must be one of queued, succeeded, retrying, failed", "{p}");

    // Without ARGUS_WEBHOOK_ALLOW_PRIVATE: https only, no private addresses.
    let strict = spawn_auth(stack.db.url(), PEPPER, false).await;
    for url in [
        "http://integrator.example/hook",
        "https://127.0.0.1/hook",
        "https://10.0.0.8/hook",
        "https://[::1]/hook",
        "https://169.254.169.254/latest",
        "https://localhost/hook",
    ] {
        let r = stack
            .http
            .post(format!("{strict}/v1/webhooks"))
            .bearer_auth(&a)
            .json(&json!({"url": url, "events": ["case.closed"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{url}");
    }
    let r = stack.call(reqwest::Method::DELETE, &a, &format!("/v1/webhooks/{webhook}"), None).await;
    assert_eq!(r.status(), 204);
}

#[tokio::test]
async fn the_worker_refuses_to_send_to_private_addresses_unless_allowed() {
    let stack = Stack::start().await;
    let (stop, _) = start_worker(worker_config(stack.db.url(), stack.vhost.url(), "0.2", false));
    let (tenant, token) = stack.tenant().await;
    let receiver = Receiver::start(vec![], Duration::ZERO).await;
    // Registered while private addresses were allowed (e.g. a since-tightened
    // deployment), or a public name that now resolves to loopback.
    let by_name = receiver.url.replace("127.0.0.1", "localhost");
    let (w1, _) = stack.webhook(&token, &receiver.url, &["case.closed"]).await;
    let (w2, _) = stack.webhook(&token, &by_name, &["case.closed"]).await;
    stack.emit(&tenant, "case.closed", json!({})).await;
    for w in [w1, w2] {
        let d = stack.wait_delivery(&token, &w, "failed", Duration::from_secs(15)).await;
        assert!(d["error"].as_str().unwrap().contains("forbidden"), "{d}");
        assert!(d["response_status"].is_null());
    }
    assert!(receiver.received().is_empty(), "nothing reached the private address");
    stop.cancel();
}

#[tokio::test]
async fn an_address_that_never_answers_is_given_up_at_the_connect_timeout() {
    let stack = Stack::start().await;
    // A request timeout of 6 s: connections get 2 s.
    let _worker = stack.worker_with(|c| c.request_timeout = Duration::from_secs(6), "0.2");
    let (tenant, token) = stack.tenant().await;
    // A listener that never accepts, its queue (backlog 0) filled: the
    // kernel drops further SYNs, as a dead host or a firewall would.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(0).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut held = Vec::new();
    while let Ok(c) = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
        held.push(c);
        assert!(held.len() < 16, "the listener's queue never filled");
    }
    let (webhook, _) = stack.webhook(&token, &format!("http://{addr}/hook"), &["case.closed"]).await;
    stack.emit(&tenant, "case.closed", json!({})).await;

    let d = stack.wait_delivery(&token, &webhook, "failed", Duration::from_secs(20)).await;
    assert_eq!(d["attempts"], 2);
    assert_eq!(d["error"], "could not connect within 2000 ms", "{d}");
    assert!(d["response_status"].is_null());
    let waited = d["duration_ms"].as_i64().unwrap();
    assert!((1900..4000).contains(&waited), "gave up after {waited} ms, not at the 2 s connect timeout");
    drop((held, listener));
}

#[tokio::test]
async fn a_broker_outage_delays_events_and_loses_none() {
    let stack = Stack::start().await;
    let proxy = BrokerProxy::start("127.0.0.1:5672".parse().unwrap()).await;
    let (stop, _) = start_worker(worker_config(stack.db.url(), &proxy.url(stack.vhost.url()), "0.2", true));
    let (tenant, token) = stack.tenant().await;
    let receiver = Receiver::start(vec![], Duration::ZERO).await;
    stack.webhook(&token, &receiver.url, &["incident.created"]).await;

    // The broker is down while events are written.
    let mut expected = stack.emit_numbered(&tenant, "incident.created", 10).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(receiver.received().is_empty());
    assert_eq!(stack.store.outbox_unsent_count().await.unwrap(), 10);

    proxy.set_up(true);
    let got = receiver.wait_for(10, Duration::from_secs(30)).await;
    let mut ids: Vec<String> = got.iter().map(|r| r.header("webhook-id")).collect();
    ids.sort();
    ids.dedup();
    expected.sort();
    assert_eq!(ids, expected, "every event delivered once the broker is back");
    stop.cancel();
}

#[tokio::test]
async fn a_killed_worker_loses_nothing_and_duplicates_keep_their_webhook_id() {
    let stack = Stack::start().await;
    let (tenant, token) = stack.tenant().await;
    let receiver = Receiver::start(vec![], Duration::from_millis(150)).await;
    stack.webhook(&token, &receiver.url, &["incident.updated"]).await;
    let expected = stack.emit_numbered(&tenant, "incident.updated", 30).await;
    let spawn = || stack.worker_binary();
    let mut first = spawn();
    receiver.wait_for(3, Duration::from_secs(20)).await;
    first.kill(); // SIGKILL, mid-batch: deliveries in flight are never acked
    let before_restart = receiver.received().len();
    assert!(before_restart < 30, "killed before the batch finished");

    let mut second = spawn();
    let until = Instant::now() + Duration::from_secs(40);
    let mut by_id: HashMap<String, Vec<Vec<u8>>> = HashMap::new();
    while Instant::now() < until {
        by_id.clear();
        for r in receiver.received() {
            by_id.entry(r.header("webhook-id")).or_default().push(r.body.clone());
        }
        if expected.iter().all(|e| by_id.contains_key(e)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    second.kill();
    for e in &expected {
        let copies = by_id.get(e).unwrap_or_else(|| panic!("event {e} never delivered"));
        assert!(copies.windows(2).all(|w| w[0] == w[1]), "duplicates of {e} carry the same body");
    }
}

#[tokio::test]
async fn sigterm_finishes_in_flight_deliveries_and_loses_nothing() {
    let stack = Stack::start().await;
    let (tenant, token) = stack.tenant().await;
    let receiver = Receiver::start(vec![], Duration::from_millis(300)).await;
    let (webhook, _) = stack.webhook(&token, &receiver.url, &["case.updated"]).await;
    let expected = stack.emit_numbered(&tenant, "case.updated", 12).await;
    let spawn = || stack.worker_binary();
    let mut first = spawn();
    receiver.wait_for(2, Duration::from_secs(20)).await;
    first.sigterm();
    let status = first.wait_for_exit(Duration::from_secs(15)).await;
    assert!(status.success(), "exit status {status}");
    // What it had sent, it finished: every receipt so far is recorded.
    let received: Vec<String> = receiver.received().iter().map(|r| r.header("webhook-id")).collect();
    assert!(received.len() < 12, "stopped before the batch finished");
    let done = stack.deliveries(&token, &webhook, "?status=succeeded&limit=100").await;
    let done: Vec<&str> = done.iter().map(|d| d["event_id"].as_str().unwrap()).collect();
    for id in &received {
        assert!(done.contains(&id.as_str()), "{id} was received but not recorded before exit");
    }

    let mut second = spawn();
    let got = receiver.wait_for(12, Duration::from_secs(30)).await;
    second.kill();
    for e in &expected {
        assert!(got.iter().any(|r| &r.header("webhook-id") == e), "{e} lost across the restart");
    }
}

#[test]
fn the_binary_answers_version_and_help_listing_its_variables() {
    argus_http::testing::assert_binary_answers_flags(
        env!("CARGO_BIN_EXE_delivery-worker"),
        "delivery-worker",
        env!("CARGO_PKG_VERSION"),
    );
}

/// A dead-letter queue declared before it had a bound (a classic queue of
/// the same name, here) cannot be declared again with one: the worker stops
/// at once, exits with a failure and says what to do, instead of
/// reconnecting forever while nothing is consumed.
#[tokio::test]
async fn a_dead_letter_queue_the_broker_refuses_stops_the_worker_with_advice() {
    use lapin::options::QueueDeclareOptions;
    use lapin::types::{FieldTable, ShortString};
    let (db, vhost) = tokio::join!(TestDatabase::create(), TestVhost::create());
    let connection = argus_bus::connect(&vhost.url().into(), "test", Duration::from_secs(5)).await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    let options = QueueDeclareOptions { durable: true, ..QueueDeclareOptions::default() };
    channel.queue_declare(ShortString::try_new("argus.dead").unwrap(), options, FieldTable::default()).await.unwrap();

    let mut worker =
        worker_command(db.url(), vhost.url(), PEPPER).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = worker.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the worker kept running with a refused dead-letter queue");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(status.code(), Some(1));
    let mut stderr = String::new();
    std::io::Read::read_to_string(worker.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains("argus.dead") && stderr.contains("rabbitmqctl delete_queue argus.dead"), "{stderr}");
    // What was there is left as it was, for the operator to save.
    let kept = channel
        .queue_declare(
            ShortString::try_new("argus.dead").unwrap(),
            QueueDeclareOptions { passive: true, ..options },
            FieldTable::default(),
        )
        .await;
    assert!(kept.is_ok(), "{kept:?}");
}
