//! The worker's metrics: deliveries and job callbacks by outcome, their
//! requests' time and how many are in flight or waiting for a slot,
//! deferrals; jobs finished;
//! and, every [`SAMPLE_EVERY`], the backlogs read from the database and
//! the broker (outbox, jobs queue, dead letters), which every worker
//! replica reports alike (alerts take their `max`).
//!
//! No tenant is a label: a tenant's share of the worker is bounded by
//! `ARGUS_WEBHOOK_MAX_IN_FLIGHT_PER_TENANT`, and its deliveries are listed
//! per tenant by `GET /v1/webhooks/{id}/deliveries`.

use std::time::Duration;

use argus_bus::{CancellationToken, Publisher};
use argus_domain::{DeliveryStatus, JobKind, JobStatus};
use argus_store::Store;
use argus_telemetry::metrics::catalog::{
    DEAD_LETTERS, DELIVERIES, DELIVERIES_DEFERRED, DELIVERIES_IN_FLIGHT, DELIVERIES_WAITING, DELIVERY_ATTEMPT_DURATION,
    JOB_DURATION, JOBS, JOBS_FINISHED, JOBS_LEASE_EXPIRED, JOBS_OLDEST_QUEUED_AGE, OUTBOX_OLDEST_UNSENT_AGE,
    OUTBOX_UNSENT,
};
use chrono::{DateTime, Utc};

/// How often the backlogs are read.
const SAMPLE_EVERY: Duration = Duration::from_secs(15);
/// Unsent outbox rows are counted up to this many.
const OUTBOX_COUNT_UP_TO: i64 = 100_000;

/// What was delivered: a webhook delivery or a job's callback.
#[derive(Debug, Clone, Copy)]
pub enum Delivered {
    Webhook,
    JobCallback,
}

impl Delivered {
    fn as_str(self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::JobCallback => "job_callback",
        }
    }
}

/// Counts an attempt by the state it left its delivery in; `disabled`
/// when it was not sent because its webhook is disabled, or disabled it
/// (a 410).
pub fn attempted(what: Delivered, state: DeliveryStatus, disabled: bool) {
    let outcome = if disabled { "disabled" } else { state.as_str() };
    metrics::counter!(DELIVERIES.name, "kind" => what.as_str(), "outcome" => outcome).increment(1);
}

/// Counts a delivery put back unattempted, its webhook or tenant busy.
pub fn deferred() {
    metrics::counter!(DELIVERIES_DEFERRED.name).increment(1);
}

/// One more delivery waiting in the worker for a slot (`true`), or one
/// fewer.
pub fn waiting(more: bool) {
    let gauge = metrics::gauge!(DELIVERIES_WAITING.name);
    if more { gauge.increment(1.0) } else { gauge.decrement(1.0) }
}

/// A delivery request in flight, until dropped; dropping records its time.
pub struct Sending {
    what: Delivered,
    started: std::time::Instant,
}

impl Sending {
    pub fn start(what: Delivered) -> Self {
        metrics::gauge!(DELIVERIES_IN_FLIGHT.name).increment(1.0);
        Self { what, started: std::time::Instant::now() }
    }
}

impl Drop for Sending {
    fn drop(&mut self) {
        metrics::gauge!(DELIVERIES_IN_FLIGHT.name).decrement(1.0);
        metrics::histogram!(DELIVERY_ATTEMPT_DURATION.name, "kind" => self.what.as_str())
            .record(self.started.elapsed().as_secs_f64());
    }
}

/// Counts a job this worker finished, and how long its run took.
pub fn job_finished(kind: JobKind, status: JobStatus, took: Duration) {
    let (kind, status) = (kind.as_str(), status.as_str());
    metrics::counter!(JOBS_FINISHED.name, "kind" => kind, "status" => status).increment(1);
    metrics::histogram!(JOB_DURATION.name, "kind" => kind, "status" => status).record(took.as_secs_f64());
}

/// Reads the backlogs every [`SAMPLE_EVERY`] until `stop`. A read that
/// fails leaves its gauges as they were (readiness reports the outage).
pub async fn sample_backlogs(store: Store, publisher: Publisher, stop: CancellationToken) {
    loop {
        sample_once(&store, &publisher).await;
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(SAMPLE_EVERY) => {}
        }
    }
}

async fn sample_once(store: &Store, publisher: &Publisher) {
    let now = Utc::now();
    match store.outbox_backlog(OUTBOX_COUNT_UP_TO).await {
        Ok(outbox) => {
            metrics::gauge!(OUTBOX_UNSENT.name).set(outbox.unsent as f64);
            metrics::gauge!(OUTBOX_OLDEST_UNSENT_AGE.name).set(age(outbox.oldest_unsent_at, now));
        }
        Err(e) => tracing::debug!(error = %e, "metrics: cannot read the outbox backlog"),
    }
    match store.job_backlog().await {
        Ok(jobs) => {
            // Every kind and state, so a count that fell to none reads 0.
            for kind in JobKind::ALL {
                for status in [JobStatus::Queued, JobStatus::Running] {
                    let count = jobs
                        .counts
                        .iter()
                        .find(|c| c.kind == kind.as_str() && c.status == status.as_str())
                        .map_or(0, |c| c.jobs);
                    metrics::gauge!(JOBS.name, "kind" => kind.as_str(), "status" => status.as_str()).set(count as f64);
                }
            }
            metrics::gauge!(JOBS_OLDEST_QUEUED_AGE.name).set(age(jobs.oldest_queued_at, now));
            metrics::gauge!(JOBS_LEASE_EXPIRED.name).set(jobs.lease_expired as f64);
        }
        Err(e) => tracing::debug!(error = %e, "metrics: cannot read the jobs backlog"),
    }
    match publisher.queue_depth(&publisher.topology().dead_queue()).await {
        Ok(depth) => metrics::gauge!(DEAD_LETTERS.name).set(f64::from(depth)),
        Err(e) => tracing::debug!(error = %e, "metrics: cannot read the dead-letter queue's depth"),
    }
}

/// Seconds since `since`, 0 for nothing waiting.
fn age(since: Option<DateTime<Utc>>, now: DateTime<Utc>) -> f64 {
    since.map_or(0.0, |at| (now - at).num_milliseconds().max(0) as f64 / 1000.0)
}
