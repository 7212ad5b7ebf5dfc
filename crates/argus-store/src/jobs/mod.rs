//! Async jobs: the job rows the API writes and the worker claims, runs and
//! finishes, their result chunks, and the job callbacks' bookkeeping.
//!
//! A job's life: `queued` (written with its outbox task in one
//! transaction) → `running` (claimed by a worker under a lease, `attempts`
//! counting the claims) → `succeeded`, `failed` or `cancelled`. Finishing
//! drops the input chunks and writes the result chunks, the terminal
//! state, the `job.*` event and its outbox rows (and the callback's task)
//! in one transaction, guarded by the attempt, so a job finishes exactly
//! once however often its task is delivered.

use argus_domain::{CallbackStatus, JobKind, JobOutcome, JobStatus};
use argus_messages::proto;
use argus_types::{EventId, JobId, TenantId};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::{Value, json};

use crate::domain::record_event;
use crate::idempotency::{StoredResponse, store_response};
use crate::outbox::{NewOutboxMessage, enqueue};
use crate::schema::{job_input_chunks, job_result_chunks, jobs};
use crate::stored_text::{AsText, Stored};
use crate::tenant_rows::{PageQuery, TenantTable, find_row, list_page, tenant_table};
use crate::write_stamp::Stamp;
use crate::{Page, PageRequest, Store, StoreError, WriteStamp};

mod callbacks;
mod results;

pub use callbacks::CallbackContext;

/// Results are stored (and streamed) in chunks of at most this many bytes.
pub const RESULT_CHUNK_BYTES: usize = 1 << 20;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = jobs, check_for_backend(diesel::pg::Pg))]
pub struct JobRecord {
    #[diesel(deserialize_as = Stored<JobId>)]
    pub id: JobId,
    #[diesel(deserialize_as = Stored<TenantId>)]
    pub tenant_id: TenantId,
    /// The `client_id` of the token that created the job: an app's id, or
    /// `argusctl` for an admin token, so not a [`argus_types::ClientId`].
    pub client_id: String,
    #[diesel(deserialize_as = Stored<JobKind>)]
    pub kind: JobKind,
    #[diesel(deserialize_as = Stored<JobStatus>)]
    pub status: JobStatus,
    pub input: Value,
    pub progress: f64,
    pub attempts: i32,
    pub lease_expires_at: Option<DateTime<Utc>>,
    pub cancel_requested: bool,
    pub error: Option<Value>,
    pub result_content_type: Option<String>,
    pub result_bytes: Option<i64>,
    pub callback_url: Option<String>,
    #[diesel(deserialize_as = Stored<Option<CallbackStatus>>)]
    pub callback_status: Option<CallbackStatus>,
    pub callback_attempts: i32,
    #[diesel(deserialize_as = Stored<Option<EventId>>)]
    pub event_id: Option<EventId>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// When a succeeded job's result is (or was) deleted.
    pub result_expires_at: Option<DateTime<Utc>>,
}

impl JobRecord {
    /// The job as its `job.*` events carry it.
    pub fn event_data(&self) -> Value {
        json!({
            "id": self.id,
            "kind": self.kind,
            "status": self.status,
            "progress": self.progress,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "error": self.error,
            "result_url": (self.status == JobStatus::Succeeded).then(|| format!("/v1/jobs/{}/result", self.id)),
        })
    }
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = jobs)]
pub struct NewJob {
    #[diesel(serialize_as = AsText)]
    pub id: JobId,
    /// See [`JobRecord::client_id`].
    pub client_id: String,
    #[diesel(serialize_as = AsText)]
    pub kind: JobKind,
    pub input: Value,
    pub callback_url: Option<String>,
    pub callback_secret_sealed: Option<Vec<u8>>,
    /// Chosen by the caller, so the response can be built before the row.
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    pub status: Option<JobStatus>,
    pub kind: Option<JobKind>,
}

/// What a worker gets when it tries to claim a job.
#[derive(Debug)]
pub enum Claim {
    /// Run it: this is attempt `attempt`; `checkpoint` is how far earlier
    /// attempts got (see [`Store::checkpoint_job`]).
    Run { attempt: i32, job: Box<JobRecord>, checkpoint: Option<Value> },
    /// Already finished (a duplicate task): nothing to do.
    Finished,
    /// Another worker holds an unexpired lease on it.
    Busy { lease_expires_at: DateTime<Utc> },
    /// No such job in the tenant.
    Missing,
}

/// What a checkpoint learned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checkpoint {
    Continue,
    /// Cancel was requested: stop and finish as `cancelled`.
    Cancel,
    /// The lease is lost (another attempt took the job over): stop without
    /// finishing.
    Lost,
}

impl Checkpoint {
    /// From the job's `cancel_requested`, read back by the guarded update
    /// (`None`: the attempt no longer holds the job).
    fn from_cancel_flag(cancel: Option<bool>) -> Self {
        match cancel {
            None => Self::Lost,
            Some(true) => Self::Cancel,
            Some(false) => Self::Continue,
        }
    }
}

/// How a job ended.
#[derive(Debug, Clone)]
pub struct JobEnd {
    pub outcome: JobOutcome,
    /// `{"code","message"}` for a failure.
    pub error: Option<Value>,
    /// The result (on success).
    pub result: Option<JobResult>,
    /// How long the result is kept.
    pub keep_result: chrono::Duration,
}

impl JobEnd {
    fn cancelled() -> Self {
        Self { outcome: JobOutcome::Cancelled, error: None, result: None, keep_result: chrono::Duration::zero() }
    }
}

/// A succeeded job's result.
#[derive(Debug, Clone)]
pub enum JobResult {
    /// Stored in chunks when the job ends.
    Body { content_type: String, body: Vec<u8> },
    /// Already stored, in chunks the attempt appended while it ran
    /// ([`Store::append_result_chunk`]), `bytes` in all.
    Written { content_type: String, bytes: i64 },
}

/// What `DELETE /v1/jobs/{id}` did.
#[derive(Debug)]
pub enum CancelOutcome {
    /// A queued job, cancelled at once.
    Cancelled(JobRecord),
    /// A running job, asked to stop at its next checkpoint.
    Requested(JobRecord),
    /// Already finished: nothing to cancel.
    Finished(JobRecord),
}

tenant_table!(jobs);

/// The job `id` of `tenant`, locked until the caller's transaction ends.
async fn lock_job(
    conn: &mut AsyncPgConnection,
    tenant: &TenantId,
    id: &JobId,
) -> Result<Option<JobRecord>, StoreError> {
    find_row(conn, jobs::table.tenant_row(tenant, id.as_str()).for_update()).await
}

/// Puts a job in a terminal state (the row must be locked by the caller's
/// transaction), with its result chunks, event and outbox rows.
async fn finish_locked(
    conn: &mut AsyncPgConnection,
    stamp: &Stamp,
    tenant: &TenantId,
    job: &JobRecord,
    end: JobEnd,
) -> Result<JobRecord, StoreError> {
    let now = stamp.time();
    let mut event = stamp.event(tenant, end.outcome.event(), Value::Null);
    event.created_at = now;
    let (content_type, bytes) = match &end.result {
        Some(JobResult::Body { content_type, body }) => {
            (Some(content_type.clone()), Some(i64::try_from(body.len()).unwrap_or(i64::MAX)))
        }
        Some(JobResult::Written { content_type, bytes }) => (Some(content_type.clone()), Some(*bytes)),
        None => (None, None),
    };
    // Chunks of earlier attempts, or of this one when it has no result, are
    // not the result.
    let stale = job_result_chunks::table.filter(job_result_chunks::job_id.eq(job.id.as_str()));
    match end.result {
        Some(_) => diesel::delete(stale.filter(job_result_chunks::attempt.ne(job.attempts))).execute(conn).await?,
        None => diesel::delete(stale).execute(conn).await?,
    };
    if let Some(JobResult::Body { body, .. }) = &end.result {
        for (seq, chunk) in body.chunks(RESULT_CHUNK_BYTES).enumerate() {
            diesel::insert_into(job_result_chunks::table)
                .values((
                    job_result_chunks::job_id.eq(job.id.as_str()),
                    job_result_chunks::attempt.eq(job.attempts),
                    job_result_chunks::seq.eq(i32::try_from(seq).unwrap_or(i32::MAX)),
                    job_result_chunks::data.eq(chunk),
                ))
                .execute(conn)
                .await?;
        }
    }
    // The input is done with; dropping it frees the tenant's quota.
    diesel::delete(job_input_chunks::table.filter(job_input_chunks::job_id.eq(job.id.as_str()))).execute(conn).await?;
    let callback = job.callback_url.is_some();
    let record = diesel::update(jobs::table.tenant_row(tenant, job.id.as_str()))
        .set((
            jobs::status.eq(end.outcome.status().as_str()),
            jobs::progress.eq(if end.outcome == JobOutcome::Succeeded { 1.0 } else { job.progress }),
            jobs::error.eq(end.error),
            jobs::result_content_type.eq(content_type),
            jobs::result_bytes.eq(bytes),
            jobs::result_expires_at.eq(bytes.map(|_| now + end.keep_result)),
            jobs::lease_expires_at.eq(None::<DateTime<Utc>>),
            jobs::finished_at.eq(now),
            jobs::event_id.eq(event.id.as_str()),
            jobs::callback_status.eq(callback.then_some(CallbackStatus::Pending.as_str())),
            jobs::checkpoint.eq(None::<Value>),
            jobs::updated_at.eq(now),
        ))
        .returning(JobRecord::as_returning())
        .get_result(conn)
        .await?;
    // The `job.*` event (for subscribed webhooks) and, when the job has a
    // callback URL, the callback's task.
    event.data = record.event_data();
    record_event(conn, &event).await?;
    if callback {
        let task = proto::JobCallbackTask {
            job_id: record.id.to_string(),
            tenant_id: tenant.to_string(),
            event_id: event.id.to_string(),
        };
        enqueue(conn, NewOutboxMessage::job_callback(tenant, &task)).await?;
    }
    Ok(record)
}

/// Inserts a queued job, its work task and the kept response (in the
/// caller's transaction).
pub(crate) async fn insert_job(
    conn: &mut AsyncPgConnection,
    tenant: &TenantId,
    new: NewJob,
    response: Option<&StoredResponse>,
) -> Result<JobRecord, StoreError> {
    let task = proto::JobTask {
        job_id: new.id.to_string(),
        tenant_id: tenant.to_string(),
        kind: new.kind.as_str().to_owned(),
        attempt: 1,
    };
    let record = diesel::insert_into(jobs::table)
        .values((jobs::tenant_id.eq(tenant.as_str()), jobs::updated_at.eq(new.created_at), new))
        .returning(JobRecord::as_returning())
        .get_result(conn)
        .await?;
    enqueue(conn, NewOutboxMessage::job(tenant, &task)).await?;
    if let Some(r) = response {
        store_response(conn, tenant, r).await?;
    }
    Ok(record)
}

impl Store {
    /// Writes a queued job and its work task in one transaction, and with
    /// them the response kept for the request's Idempotency-Key.
    pub async fn create_job(
        &self,
        tenant: &TenantId,
        new: NewJob,
        response: Option<&StoredResponse>,
    ) -> Result<JobRecord, StoreError> {
        self.transaction(async |conn| insert_job(conn, tenant, new, response).await).await
    }

    pub async fn get_job(&self, tenant: &TenantId, id: &JobId) -> Result<Option<JobRecord>, StoreError> {
        find_row(&mut *self.conn().await?, jobs::table.tenant_row(tenant, id.as_str())).await
    }

    /// The tenant's jobs, oldest first, a page at a time.
    pub async fn list_jobs(
        &self,
        tenant: &TenantId,
        filter: &JobFilter,
        page: &PageRequest<JobId>,
    ) -> Result<Page<JobRecord>, StoreError> {
        list_page(&mut *self.conn().await?, jobs::table, tenant, PageQuery::oldest_first(page), |mut query| {
            if let Some(s) = &filter.status {
                query = query.filter(jobs::status.eq(s.as_str()));
            }
            if let Some(k) = &filter.kind {
                query = query.filter(jobs::kind.eq(k.as_str()));
            }
            query
        })
        .await
    }

    /// Cancels a queued job at once (announcing `job.cancelled`), or asks a
    /// running one to stop at its next checkpoint. `None`: no such job.
    pub async fn cancel_job(
        &self,
        stamp: WriteStamp,
        tenant: &TenantId,
        id: &JobId,
    ) -> Result<Option<CancelOutcome>, StoreError> {
        self.transaction(async |conn| {
            let Some(job) = lock_job(conn, tenant, id).await? else { return Ok(None) };
            if job.status.is_terminal() {
                return Ok(Some(CancelOutcome::Finished(job)));
            }
            let stamp = stamp.take(conn, tenant).await?;
            if job.status == JobStatus::Queued {
                let end = JobEnd::cancelled();
                return Ok(Some(CancelOutcome::Cancelled(finish_locked(conn, &stamp, tenant, &job, end).await?)));
            }
            let job = diesel::update(jobs::table.tenant_row(tenant, id.as_str()))
                .set((jobs::cancel_requested.eq(true), jobs::updated_at.eq(stamp.time())))
                .returning(JobRecord::as_returning())
                .get_result(conn)
                .await?;
            Ok(Some(CancelOutcome::Requested(job)))
        })
        .await
    }

    /// Claims a job for one attempt under a lease of `lease`. A queued job,
    /// or a running one whose lease expired (its worker died), is taken;
    /// a job with cancel requested is finished as cancelled instead.
    pub async fn claim_job(
        &self,
        tenant: &TenantId,
        id: &JobId,
        lease: std::time::Duration,
    ) -> Result<Claim, StoreError> {
        let lease = chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(30));
        self.transaction(async |conn| {
            let Some(job) = lock_job(conn, tenant, id).await? else { return Ok(Claim::Missing) };
            if job.status.is_terminal() {
                return Ok(Claim::Finished);
            }
            let now = Utc::now();
            if job.status == JobStatus::Running
                && let Some(until) = job.lease_expires_at
                && until > now
            {
                return Ok(Claim::Busy { lease_expires_at: until });
            }
            if job.cancel_requested {
                let end = JobEnd::cancelled();
                finish_locked(conn, &Stamp::Now, tenant, &job, end).await?;
                return Ok(Claim::Finished);
            }
            // Chunks a dead attempt left behind are not the result.
            diesel::delete(job_result_chunks::table.filter(job_result_chunks::job_id.eq(id.as_str())))
                .execute(conn)
                .await?;
            let job = diesel::update(jobs::table.tenant_row(tenant, id.as_str()))
                .set((
                    jobs::status.eq(JobStatus::Running.as_str()),
                    jobs::attempts.eq(jobs::attempts + 1),
                    jobs::lease_expires_at.eq(now + lease),
                    jobs::started_at.eq(job.started_at.unwrap_or(now)),
                    jobs::updated_at.eq(now),
                ))
                .returning(JobRecord::as_returning())
                .get_result(conn)
                .await?;
            let checkpoint: Option<Value> =
                jobs::table.filter(jobs::id.eq(id.as_str())).select(jobs::checkpoint).first(conn).await?;
            Ok(Claim::Run { attempt: job.attempts, job: Box::new(job), checkpoint })
        })
        .await
    }

    /// Records progress and renews the lease of attempt `attempt`, and
    /// with `checkpoint` keeps how far the run got (in the kind's terms)
    /// for a later attempt to resume from; says whether to go on.
    pub async fn checkpoint_job(
        &self,
        tenant: &TenantId,
        id: &JobId,
        attempt: i32,
        progress: f64,
        checkpoint: Option<&Value>,
        lease: std::time::Duration,
    ) -> Result<Checkpoint, StoreError> {
        let mut conn = self.conn().await?;
        let lease = chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(30));
        let now = Utc::now();
        let cancel: Option<bool> = diesel::update(jobs::table.tenant_row(tenant, id.as_str()))
            .filter(jobs::attempts.eq(attempt))
            .filter(jobs::status.eq(JobStatus::Running.as_str()))
            .set((
                jobs::progress.eq(progress.clamp(0.0, 1.0)),
                // Left as it is when there is none.
                checkpoint.map(|c| jobs::checkpoint.eq(c)),
                jobs::lease_expires_at.eq(now + lease),
                jobs::updated_at.eq(now),
            ))
            .returning(jobs::cancel_requested)
            .get_result(&mut conn)
            .await
            .optional()?;
        Ok(Checkpoint::from_cancel_flag(cancel))
    }

    /// Hands a running job back to the queue (its worker is stopping):
    /// `queued` again, lease cleared, progress kept. `false` when attempt
    /// `attempt` no longer holds it.
    pub async fn release_job(&self, tenant: &TenantId, id: &JobId, attempt: i32) -> Result<bool, StoreError> {
        let mut conn = self.conn().await?;
        let released = diesel::update(jobs::table.tenant_row(tenant, id.as_str()))
            .filter(jobs::attempts.eq(attempt))
            .filter(jobs::status.eq(JobStatus::Running.as_str()))
            .set((
                jobs::status.eq(JobStatus::Queued.as_str()),
                jobs::lease_expires_at.eq(None::<DateTime<Utc>>),
                jobs::updated_at.eq(Utc::now()),
            ))
            .execute(&mut conn)
            .await?;
        Ok(released == 1)
    }

    /// Finishes attempt `attempt` of a running job. `false` (and nothing
    /// written) when that attempt no longer holds the job.
    pub async fn finish_job(
        &self,
        tenant: &TenantId,
        id: &JobId,
        attempt: i32,
        end: JobEnd,
    ) -> Result<bool, StoreError> {
        self.transaction(async |conn| {
            let Some(job) = lock_job(conn, tenant, id).await? else { return Ok(false) };
            if job.status != JobStatus::Running || job.attempts != attempt {
                return Ok(false);
            }
            finish_locked(conn, &Stamp::Now, tenant, &job, end).await?;
            Ok(true)
        })
        .await
    }
}
