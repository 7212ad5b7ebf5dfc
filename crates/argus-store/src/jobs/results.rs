//! Job results: stored in chunks of at most [`RESULT_CHUNK_BYTES`], read
//! back chunk by chunk, appended while an attempt runs, and purged when
//! their retention runs out.

use argus_types::{JobId, TenantId};
use chrono::Utc;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::schema::{job_result_chunks, jobs};
use crate::{Store, StoreError};

impl Store {
    /// One chunk of a finished job's result (`seq` from 0), tenant-scoped.
    pub async fn job_result_chunk(
        &self,
        tenant: &TenantId,
        id: &JobId,
        attempt: i32,
        seq: i32,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let mut conn = self.conn().await?;
        Ok(job_result_chunks::table
            .inner_join(jobs::table.on(jobs::id.eq(job_result_chunks::job_id)))
            .filter(jobs::tenant_id.eq(tenant.as_str()))
            .filter(job_result_chunks::job_id.eq(id.as_str()))
            .filter(job_result_chunks::attempt.eq(attempt))
            .filter(job_result_chunks::seq.eq(seq))
            .select(job_result_chunks::data)
            .first(&mut conn)
            .await
            .optional()?)
    }

    /// Appends chunk `seq` of attempt `attempt`'s result while the job
    /// runs, so a large result is never held whole. `false` (and nothing
    /// written) when that attempt no longer holds the job.
    pub async fn append_result_chunk(
        &self,
        tenant: &TenantId,
        id: &JobId,
        attempt: i32,
        seq: i32,
        data: &[u8],
    ) -> Result<bool, StoreError> {
        use diesel::sql_types::{Binary, Integer, Text};
        let mut conn = self.conn().await?;
        let written = diesel::sql_query(
            "INSERT INTO job_result_chunks (job_id, attempt, seq, data) \
             SELECT id, attempts, $4, $5 FROM jobs \
             WHERE tenant_id = $1 AND id = $2 AND status = 'running' AND attempts = $3",
        )
        .bind::<Text, _>(tenant.as_str())
        .bind::<Text, _>(id.as_str())
        .bind::<Integer, _>(attempt)
        .bind::<Integer, _>(seq)
        .bind::<Binary, _>(data)
        .execute(&mut conn)
        .await?;
        Ok(written == 1)
    }

    /// Deletes the results whose retention ran out, `batch` jobs to a
    /// transaction, so the tenants' quotas are freed; how many jobs lost
    /// their result. Every tenant's, as housekeeping.
    pub async fn purge_expired_job_results(&self, batch: i64) -> Result<usize, StoreError> {
        let mut purged = 0;
        loop {
            let n = self
                .transaction(async |conn| {
                    let ids: Vec<String> = jobs::table
                        .filter(jobs::result_bytes.is_not_null())
                        .filter(jobs::result_expires_at.lt(Utc::now()))
                        .order(jobs::result_expires_at)
                        .limit(batch)
                        .for_update()
                        .skip_locked()
                        .select(jobs::id)
                        .load(conn)
                        .await?;
                    diesel::delete(job_result_chunks::table.filter(job_result_chunks::job_id.eq_any(&ids)))
                        .execute(conn)
                        .await?;
                    diesel::update(jobs::table.filter(jobs::id.eq_any(&ids)))
                        .set((jobs::result_bytes.eq(None::<i64>), jobs::result_content_type.eq(None::<String>)))
                        .execute(conn)
                        .await?;
                    Ok(ids.len())
                })
                .await?;
            purged += n;
            if i64::try_from(n).unwrap_or(i64::MAX) < batch {
                return Ok(purged);
            }
        }
    }
}
