//! Large job inputs (import.bulk's NDJSON) in `job_input_chunks`: written
//! chunk by chunk as the request streams in, inside one transaction that
//! commits with the job (or rolls back, leaving nothing), and read back by
//! the worker one chunk at a time. Also what a tenant's stored job inputs
//! and results add up to, for its quota.

use argus_types::{JobId, TenantId};
use diesel::dsl::{AsSelect, Eq, Filter, Select, sum};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel_async::pooled_connection::deadpool::Object;
use diesel_async::{AnsiTransactionManager, AsyncPgConnection, RunQueryDsl, TransactionManager};

use crate::idempotency::StoredResponse;
use crate::jobs::{JobRecord, NewJob, insert_job};
use crate::schema::{job_input_chunks, jobs};
use crate::tenant_rows::TenantTable;
use crate::{Store, StoreError};

/// One stored chunk of an input: whole lines, the first numbered
/// `first_line` (1-based, blank lines counted).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = job_input_chunks, check_for_backend(diesel::pg::Pg))]
pub struct InputChunk {
    pub seq: i32,
    pub first_line: i64,
    pub data: Vec<u8>,
}

type ChunksOf<'a> = Select<
    Filter<
        Filter<job_input_chunks::table, Eq<job_input_chunks::tenant_id, &'a str>>,
        Eq<job_input_chunks::job_id, &'a str>,
    >,
    AsSelect<InputChunk, Pg>,
>;

/// The input chunks of the tenant's job `job`.
fn chunks_of<'a>(tenant: &'a TenantId, job: &'a JobId) -> ChunksOf<'a> {
    job_input_chunks::table
        .filter(job_input_chunks::tenant_id.eq(tenant.as_str()))
        .filter(job_input_chunks::job_id.eq(job.as_str()))
        .select(InputChunk::as_select())
}

/// An input being written: one connection holding one open transaction
/// until [`InputUpload::commit_job`] or [`InputUpload::abandon`]. Dropped
/// without either, the connection goes back to the pool with its
/// transaction open, which the pool takes as broken and closes: the
/// server rolls back.
pub struct InputUpload {
    conn: Object<AsyncPgConnection>,
    tenant: TenantId,
    job: JobId,
    next_seq: i32,
    bytes: i64,
}

impl InputUpload {
    /// Appends the next chunk (whole lines starting at line `first_line`).
    pub async fn write(&mut self, first_line: i64, data: &[u8]) -> Result<(), StoreError> {
        let len = i32::try_from(data.len()).map_err(|_| StoreError::Corrupt("input chunk over 2 GiB".into()))?;
        diesel::insert_into(job_input_chunks::table)
            .values((
                job_input_chunks::job_id.eq(self.job.as_str()),
                job_input_chunks::tenant_id.eq(self.tenant.as_str()),
                job_input_chunks::seq.eq(self.next_seq),
                job_input_chunks::first_line.eq(first_line),
                job_input_chunks::bytes.eq(len),
                job_input_chunks::data.eq(data),
            ))
            .execute(&mut *self.conn)
            .await?;
        self.next_seq += 1;
        self.bytes += i64::from(len);
        Ok(())
    }

    /// Bytes written so far.
    pub fn bytes(&self) -> i64 {
        self.bytes
    }

    /// Writes the job (its id must be this upload's), its work task and
    /// the kept response, and commits them with the input.
    pub async fn commit_job(mut self, new: NewJob, response: Option<&StoredResponse>) -> Result<JobRecord, StoreError> {
        if new.id != self.job {
            self.abandon().await;
            return Err(StoreError::Corrupt("the input was uploaded for another job".into()));
        }
        let written = insert_job(&mut self.conn, &self.tenant, new, response).await;
        let conn = &mut *self.conn;
        match written {
            Ok(record) => {
                AnsiTransactionManager::commit_transaction(conn).await?;
                Ok(record)
            }
            Err(e) => {
                let _ = AnsiTransactionManager::rollback_transaction(conn).await;
                Err(e)
            }
        }
    }

    /// Rolls the upload back: nothing of it stays.
    pub async fn abandon(mut self) {
        if let Err(e) = AnsiTransactionManager::rollback_transaction(&mut *self.conn).await {
            // The pool drops the connection (still in a transaction); the
            // server rolls back when it closes.
            tracing::warn!(error = %e, "rolling back a job input upload failed");
        }
    }
}

impl Store {
    /// Starts writing the input of job `job` (not yet written either).
    pub async fn begin_job_input(&self, tenant: &TenantId, job: &JobId) -> Result<InputUpload, StoreError> {
        let mut conn = self.conn().await?;
        AnsiTransactionManager::begin_transaction(&mut *conn).await?;
        Ok(InputUpload { conn, tenant: tenant.clone(), job: job.clone(), next_seq: 0, bytes: 0 })
    }

    /// The chunk of a job's input that holds line `line`, or the first
    /// chunk after it; `None` past the end.
    pub async fn job_input_chunk_at(
        &self,
        tenant: &TenantId,
        job: &JobId,
        line: i64,
    ) -> Result<Option<InputChunk>, StoreError> {
        let chunk = chunks_of(tenant, job).filter(job_input_chunks::first_line.le(line));
        Ok(chunk.order(job_input_chunks::seq.desc()).first(&mut *self.conn().await?).await.optional()?)
    }

    /// Chunk `seq` of a job's input; `None` past the last.
    pub async fn job_input_chunk(
        &self,
        tenant: &TenantId,
        job: &JobId,
        seq: i32,
    ) -> Result<Option<InputChunk>, StoreError> {
        let chunk = chunks_of(tenant, job).filter(job_input_chunks::seq.eq(seq));
        Ok(chunk.first(&mut *self.conn().await?).await.optional()?)
    }

    /// What the tenant's stored job inputs and results add up to, in
    /// uncompressed bytes: what `ARGUS_JOBS_TENANT_QUOTA_BYTES` limits.
    pub async fn job_storage_bytes(&self, tenant: &TenantId) -> Result<i64, StoreError> {
        let mut conn = self.conn().await?;
        let inputs: Option<i64> = job_input_chunks::table
            .filter(job_input_chunks::tenant_id.eq(tenant.as_str()))
            .select(sum(job_input_chunks::bytes))
            .first(&mut conn)
            .await?;
        // sum(bigint) is numeric; cast back, as a quota never nears 2^63.
        let results: Option<i64> = jobs::table
            .of_tenant(tenant)
            .select(diesel::dsl::sql::<diesel::sql_types::Nullable<diesel::sql_types::BigInt>>(
                "sum(result_bytes)::bigint",
            ))
            .first(&mut conn)
            .await?;
        Ok(inputs.unwrap_or(0) + results.unwrap_or(0))
    }
}
