//! The worker's `/metrics` after real work: a job run, its callback (a 503,
//! then a 200) and webhook deliveries (one 200, one 410) to local
//! receivers; the backlogs read from the database and the broker.

use std::time::{Duration, Instant};

use argus_http::testing::Scrape;
use serde_json::json;

use super::{Stack, jobs_config, people};
use crate::support::Receiver;

const DELIVERIES: &str = "argus_deliveries_total";

/// Scrapes the worker's admin address until `ready` holds (attempts are
/// counted once their requests end, a moment after the receiver got them).
async fn scrape_until(http: &reqwest::Client, admin: &str, ready: impl Fn(&Scrape) -> bool) -> Scrape {
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let r = http.get(format!("{admin}/metrics")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let scrape = Scrape::parse(&r.text().await.unwrap());
        if ready(&scrape) {
            return scrape;
        }
        assert!(Instant::now() < until, "the metrics never showed it: {scrape:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn deliveries_jobs_and_backlogs_show_in_the_workers_metrics() {
    let stack = Stack::start().await;
    let caller = stack.tenant().await;
    let (hooks, gone) =
        (Receiver::start(vec![], Duration::ZERO).await, Receiver::start(vec![410], Duration::ZERO).await);
    stack.webhook(&caller.tenant, &hooks.url, &["job.succeeded"]).await;
    stack.webhook(&caller.tenant, &gone.url, &["job.succeeded"]).await;
    let callback = Receiver::start(vec![503, 200], Duration::ZERO).await;
    let body = json!({"kind": "import.bulk", "input": {"ndjson": people(3)}, "callback_url": callback.url});
    let job = stack.enqueue(&caller, body).await;

    // Before any worker runs: the job waits, and so does its task in the
    // outbox.
    let jobs = stack.store.job_backlog().await.unwrap();
    assert!(jobs.counts.iter().any(|c| c.kind == "import.bulk" && c.status == "queued" && c.jobs == 1), "{jobs:?}");
    assert!(jobs.oldest_queued_at.is_some());
    assert_eq!(jobs.lease_expired, 0);
    let outbox = stack.store.outbox_backlog(100).await.unwrap();
    assert!(outbox.unsent >= 1 && outbox.oldest_unsent_at.is_some(), "{outbox:?}");
    assert_eq!(stack.store.outbox_backlog(0).await.unwrap().unsent, 0, "counted up to the bound");

    let (_worker, admin) = stack.worker_and_admin(jobs_config(1000), |_| {});
    stack.wait_status(&caller, job["id"].as_str().unwrap(), "succeeded").await;
    let scrape = scrape_until(&stack.http, &admin, |s| {
        s.value(DELIVERIES, &[("kind", "webhook"), ("outcome", "succeeded")]).is_some()
            && s.value(DELIVERIES, &[("kind", "webhook"), ("outcome", "disabled")]).is_some()
            && s.value(DELIVERIES, &[("kind", "job_callback"), ("outcome", "succeeded")]).is_some()
            && s.value("argus_dead_letter_messages", &[]).is_some()
    })
    .await;
    assert_eq!(hooks.received().len(), 1);
    assert_eq!(callback.received().len(), 2);
    assert!(scrape.expect(DELIVERIES, &[("kind", "job_callback"), ("outcome", "retrying")]) >= 1.0);
    let webhook_attempts = [("kind", "webhook")];
    assert!(scrape.expect("argus_delivery_attempt_duration_seconds_count", &webhook_attempts) >= 2.0);
    let callback_attempts = [("kind", "job_callback")];
    assert!(scrape.expect("argus_delivery_attempt_duration_seconds_count", &callback_attempts) >= 2.0);
    assert_eq!(scrape.expect("argus_deliveries_in_flight", &[]), 0.0);

    let finished = [("kind", "import.bulk"), ("status", "succeeded")];
    assert!(scrape.expect("argus_jobs_finished_total", &finished) >= 1.0);
    assert!(scrape.expect("argus_job_duration_seconds_count", &finished) >= 1.0);
    assert!(scrape.expect("argus_outbox_messages_total", &[("outcome", "published")]) >= 2.0, "the task, the event");
    assert!(scrape.expect("argus_outbox_publish_duration_seconds_count", &[]) >= 1.0);

    // The sampled backlogs: every kind in both states, the ages, the queue.
    for kind in argus_domain::JobKind::NAMES {
        for status in ["queued", "running"] {
            scrape.expect("argus_jobs", &[("kind", kind), ("status", status)]);
        }
    }
    for gauge in ["argus_jobs_oldest_queued_age_seconds", "argus_jobs_lease_expired", "argus_outbox_unsent_messages"] {
        assert!(scrape.expect(gauge, &[]) >= 0.0);
    }
    assert_eq!(scrape.expect("argus_dead_letter_messages", &[]), 0.0);
    assert!(scrape.expect("argus_db_pool_max_connections", &[]) >= 4.0);
    scrape.assert_in_catalog();
}
