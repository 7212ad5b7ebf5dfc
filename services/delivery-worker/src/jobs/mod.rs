//! The jobs consumer: runs `import.bulk`, `export.bulk`,
//! `intelligence.enrich.bulk` and `graph.compute` jobs. The callbacks of
//! finished jobs go out on the deliveries queue (`crate::callback`), so a
//! slow callback receiver never holds a job-run slot.
//!
//! At least once, without duplicated effects: a task claims its job under
//! a lease (`attempts` counts claims); a heartbeat checkpoints progress and
//! renews the lease every `checkpoint_every`, and learns of a cancel; a
//! worker that dies stops renewing, so after the lease a redelivered task
//! claims the job again (imports are upserts, so a rerun adds nothing
//! twice); finishing is guarded by the attempt, so a job finishes once and
//! a task of a finished job is acked without running.

mod enrich;
mod export;
mod graph;
mod import;

pub use graph::GraphCache;

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

use argus_bus::{Exchange, Incoming, JOB_CALLBACK_KIND, Message, Outcome, Publisher, WorkQueue, proto};
use argus_domain::{JobKind, JobOutcome};
use argus_store::jobs::{Checkpoint, Claim, JobEnd, JobRecord, JobResult};
use argus_store::{Store, StoreError};
use argus_types::{JobId, TenantId};
use serde_json::{Value, json};

use crate::deliver::STORE_RETRY_MS;

/// What the jobs consumer needs.
pub struct JobRunner {
    pub store: Store,
    /// Hands callback tasks found on the jobs queue to the deliveries queue.
    pub publisher: Publisher,
    pub lease: Duration,
    pub checkpoint_every: Duration,
    /// Rows per upsert statement of an import.
    pub import_batch: usize,
    /// Built entity graphs, for graph.compute.
    pub graphs: GraphCache,
    /// Cancelled when the worker stops: running jobs are handed back.
    pub shutdown: argus_bus::CancellationToken,
    /// Rows one export may hold at most.
    pub max_rows: u64,
    /// How long a succeeded job's result is kept.
    pub keep_result: chrono::Duration,
}

/// Why a run stopped without a result.
#[derive(Debug)]
pub(crate) enum RunError {
    /// Cancel was requested.
    Cancelled,
    /// Another attempt holds the job now.
    Lost,
    /// The worker is stopping: hand the job back to the queue.
    Interrupted,
    /// The job cannot succeed: `code` and a message for `error`.
    Failed { code: &'static str, message: String },
    /// The database failed; the task is retried.
    Store(StoreError),
}

impl From<StoreError> for RunError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

impl RunError {
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::Failed { code: "invalid_input", message: message.into() }
    }
}

/// An analytics computation that stopped: a stop the job asked for, or a
/// failure of the input (an entity the graph does not hold, ...).
pub(crate) fn analytics_error(e: argus_analytics::ComputeError, control: &Control) -> RunError {
    match e {
        argus_analytics::ComputeError::Cancelled => match control.stop.load(Ordering::Relaxed) {
            LOST => RunError::Lost,
            INTERRUPT => RunError::Interrupted,
            _ => RunError::Cancelled,
        },
        argus_analytics::ComputeError::UnknownEntity(id) => {
            RunError::Failed { code: "unknown_entity", message: format!("unknown entity: {id}") }
        }
        argus_analytics::ComputeError::Input(e) => RunError::invalid(e.to_string()),
    }
}

const CANCEL: u8 = 1;
const LOST: u8 = 2;
const INTERRUPT: u8 = 3;

/// Shared by a running job and its heartbeat: the progress to record and
/// whether to stop.
#[derive(Default)]
pub(crate) struct Control {
    progress: AtomicU64,
    stop: AtomicU8,
}

impl Control {
    /// A checkpoint: records `progress` (0..=1) and says whether to go on.
    pub(crate) fn check(&self, progress: f64) -> Result<(), RunError> {
        self.progress.store(progress.clamp(0.0, 1.0).to_bits(), Ordering::Relaxed);
        match self.stop.load(Ordering::Relaxed) {
            CANCEL => Err(RunError::Cancelled),
            LOST => Err(RunError::Lost),
            INTERRUPT => Err(RunError::Interrupted),
            _ => Ok(()),
        }
    }

    fn progress(&self) -> f64 {
        f64::from_bits(self.progress.load(Ordering::Relaxed))
    }
}

/// A job being run: what a kind's runner gets.
pub(crate) struct Run<'a> {
    pub tenant: &'a TenantId,
    pub id: &'a JobId,
    /// The attempt this run is; what it writes is guarded by it.
    pub attempt: i32,
    pub job: &'a JobRecord,
    /// How far an earlier attempt got (the kind's own terms).
    pub checkpoint: Option<Value>,
    pub control: Arc<Control>,
}

/// A finished run's result: its media type and bytes, or how many bytes
/// of it the run already stored.
pub(crate) enum Output {
    Body { content_type: &'static str, body: Vec<u8> },
    Written { content_type: &'static str, bytes: i64 },
}

impl Output {
    pub(crate) fn json(value: &Value) -> Self {
        Self::Body { content_type: "application/json", body: serde_json::to_vec(value).unwrap_or_default() }
    }

    fn into_result(self) -> JobResult {
        match self {
            Self::Body { content_type, body } => JobResult::Body { content_type: content_type.to_owned(), body },
            Self::Written { content_type, bytes } => {
                JobResult::Written { content_type: content_type.to_owned(), bytes }
            }
        }
    }
}

impl JobRunner {
    /// Handles one message of the jobs queue: a job task.
    pub async fn handle(self: Arc<Self>, message: Incoming) -> Outcome {
        if message.kind == JOB_CALLBACK_KIND {
            return self.hand_over_callback(&message).await;
        }
        let (_, tenant, job): (proto::JobTask, TenantId, JobId) = match crate::task::decode(&message) {
            Ok(decoded) => decoded,
            Err(o) => return o,
        };
        match self.store.claim_job(&tenant, &job, self.lease).await {
            Err(e) => {
                tracing::warn!(error = %e, job_id = %job, "claiming a job failed; retrying");
                Outcome::Retry { delay_ms: STORE_RETRY_MS }
            }
            Ok(Claim::Missing | Claim::Finished) => Outcome::Ack,
            Ok(Claim::Busy { lease_expires_at }) => {
                // Another worker runs it, or one died holding it: look
                // again once the lease may have run out.
                let wait = (lease_expires_at - chrono::Utc::now()).num_milliseconds().max(100);
                Outcome::Retry { delay_ms: u64::try_from(wait).unwrap_or(STORE_RETRY_MS) }
            }
            Ok(Claim::Run { attempt, job: record, checkpoint }) => {
                self.run(&tenant, &job, attempt, &record, checkpoint).await
            }
        }
    }

    /// A callback task a worker from before callbacks moved to the
    /// deliveries queue put here: sent on to that queue, not run in a
    /// job slot.
    async fn hand_over_callback(&self, message: &Incoming) -> Outcome {
        let task: proto::JobCallbackTask = match message.decode() {
            Ok(t) => t,
            Err(e) => return Outcome::DeadLetter { reason: format!("undecodable callback task: {e}") },
        };
        let key = WorkQueue::Deliveries.routing_key();
        match self.publisher.publish(Exchange::Work, key, &Message::job_callback(&task)).await {
            Ok(()) => Outcome::Ack,
            Err(e) => {
                tracing::warn!(error = %e, job_id = %task.job_id, "handing a callback over failed; retrying");
                Outcome::Retry { delay_ms: STORE_RETRY_MS }
            }
        }
    }

    async fn run(
        &self,
        tenant: &TenantId,
        id: &JobId,
        attempt: i32,
        job: &JobRecord,
        checkpoint: Option<Value>,
    ) -> Outcome {
        tracing::info!(job_id = %id, kind = %job.kind, attempt, "job started");
        let started = std::time::Instant::now();
        let control = Arc::new(Control::default());
        control.check(job.progress).ok();
        let heartbeat = tokio::spawn(heartbeat(
            self.store.clone(),
            tenant.clone(),
            id.clone(),
            attempt,
            control.clone(),
            self.lease,
            self.checkpoint_every,
            self.shutdown.clone(),
        ));
        let run = Run { tenant, id, attempt, job, checkpoint, control: control.clone() };
        let result = caught(id, async {
            match job.kind {
                JobKind::ImportBulk => import::run(self, &run).await,
                JobKind::ExportBulk => export::run(self, &run).await,
                JobKind::GraphCompute => graph::run(self, &run).await,
                JobKind::EnrichBulk => enrich::run(self, &run).await,
            }
        })
        .await;
        heartbeat.abort();
        let keep_result = self.keep_result;
        let end = match result {
            Ok(output) => {
                JobEnd { outcome: JobOutcome::Succeeded, error: None, result: Some(output.into_result()), keep_result }
            }
            Err(RunError::Cancelled) => {
                JobEnd { outcome: JobOutcome::Cancelled, error: None, result: None, keep_result }
            }
            Err(RunError::Failed { code, message }) => JobEnd {
                outcome: JobOutcome::Failed,
                error: Some(json!({ "code": code, "message": message })),
                result: None,
                keep_result,
            },
            Err(RunError::Lost) => {
                tracing::warn!(job_id = %id, attempt, "job taken over by another attempt; stopping");
                return Outcome::Ack;
            }
            Err(RunError::Interrupted) => {
                // Back to the queue for another worker, at once.
                return match self.store.release_job(tenant, id, attempt).await {
                    Ok(released) => {
                        tracing::info!(job_id = %id, attempt, released, "worker stopping: job handed back");
                        Outcome::Retry { delay_ms: 0 }
                    }
                    Err(e) => {
                        tracing::warn!(job_id = %id, error = %e, "handing a job back failed; its lease will run out");
                        Outcome::Retry { delay_ms: STORE_RETRY_MS }
                    }
                };
            }
            Err(RunError::Store(e)) => {
                tracing::warn!(job_id = %id, attempt, error = %e, "job interrupted by the database; retrying");
                return Outcome::Retry { delay_ms: STORE_RETRY_MS };
            }
        };
        let status = end.outcome.status();
        match self.store.finish_job(tenant, id, attempt, end).await {
            Ok(finished) => {
                tracing::info!(job_id = %id, attempt, %status, finished, "job ended");
                if finished {
                    crate::metrics::job_finished(job.kind, status, started.elapsed());
                }
                Outcome::Ack
            }
            Err(e) => {
                tracing::warn!(job_id = %id, error = %e, "recording the end of a job failed; retrying");
                Outcome::Retry { delay_ms: STORE_RETRY_MS }
            }
        }
    }
}

/// A runner that panics fails its job, recorded like any other failure:
/// left to the consumer, the message would be dead-lettered with the job
/// still `running`.
async fn caught(
    id: &JobId,
    runner: impl std::future::Future<Output = Result<Output, RunError>>,
) -> Result<Output, RunError> {
    use futures_util::FutureExt;
    std::panic::AssertUnwindSafe(runner).catch_unwind().await.unwrap_or_else(|panic| {
        tracing::error!(job_id = %id, panic = argus_bus::panic_text(&*panic), "job runner panicked");
        Err(RunError::Failed { code: "internal", message: "the job stopped on an internal error".to_owned() })
    })
}

/// Every `every`: writes the job's progress, renews the lease and learns
/// whether to stop; when the worker stops, tells the job to stop too.
#[allow(clippy::too_many_arguments)]
async fn heartbeat(
    store: Store,
    tenant: TenantId,
    id: JobId,
    attempt: i32,
    control: Arc<Control>,
    lease: Duration,
    every: Duration,
    shutdown: argus_bus::CancellationToken,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.cancelled(), if control.stop.load(Ordering::Relaxed) == 0 => {
                // Unless it is already stopping for another reason.
                let _ = control.stop.compare_exchange(0, INTERRUPT, Ordering::Relaxed, Ordering::Relaxed);
                continue;
            }
        }
        match store.checkpoint_job(&tenant, &id, attempt, control.progress(), None, lease).await {
            Ok(Checkpoint::Continue) => {}
            Ok(Checkpoint::Cancel) => control.stop.store(CANCEL, Ordering::Relaxed),
            Ok(Checkpoint::Lost) => {
                control.stop.store(LOST, Ordering::Relaxed);
                return;
            }
            Err(e) => tracing::warn!(job_id = %id, error = %e, "job checkpoint failed"),
        }
    }
}

/// Every ten minutes until `stop`: deletes expired Idempotency-Keys and the
/// job results whose retention ran out.
pub async fn housekeeping(store: Store, stop: argus_bus::CancellationToken) {
    loop {
        match store.purge_idempotency_keys().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(purged = n, "expired idempotency keys purged"),
            Err(e) => tracing::warn!(error = %e, "purging idempotency keys failed"),
        }
        match store.purge_expired_job_results(500).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(purged = n, "expired job results purged"),
            Err(e) => tracing::warn!(error = %e, "purging job results failed"),
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(600)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_runner_fails_its_job_with_a_reason() {
        let (id, rows) = (JobId::generate(), Vec::<u8>::new());
        let result = caught(&id, async { Ok(Output::Body { content_type: "text/plain", body: vec![rows[1]] }) });
        match result.await {
            Err(RunError::Failed { code, message }) => {
                assert_eq!(code, "internal");
                assert_eq!(message, "the job stopped on an internal error");
            }
            Err(other) => panic!("another failure: {other:?}"),
            Ok(_) => panic!("a result from a panicking runner"),
        }
    }
}
