//! The tenant-scoped span store: finished spans of a tenant's work, written
//! by every service in batches (one row per tenant per flush, the spans
//! encoded by the writer) and found again by trace id for that tenant only.
//! Batches older than the retention are never returned and are purged.

use argus_types::TenantId;
use chrono::{DateTime, Utc};
use diesel::sql_types::{Array, BigInt, Binary, Integer, Text, Timestamptz};
use diesel_async::{AsyncConnection, RunQueryDsl};

use crate::{Store, StoreError};

/// Batches one lookup reads at most: a trace's spans sit in a handful.
const LOOKUP_BATCHES_MAX: i64 = 200;

/// One tenant's spans from one service, encoded, as written.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSpanBatch {
    pub tenant_id: String,
    /// The service that recorded the spans (`api-service`, ...).
    pub service: String,
    /// The traces the spans belong to.
    pub trace_ids: Vec<u128>,
    pub first_start: DateTime<Utc>,
    pub last_start: DateTime<Utc>,
    pub span_count: i32,
    /// The encoded spans; the store does not look inside.
    pub spans: Vec<u8>,
}

#[derive(diesel::QueryableByName)]
struct EncodedSpans {
    #[diesel(sql_type = Binary)]
    spans: Vec<u8>,
}

impl Store {
    /// Writes span batches, all in one transaction.
    pub async fn insert_span_batches(&self, batches: Vec<NewSpanBatch>) -> Result<usize, StoreError> {
        if batches.is_empty() {
            return Ok(0);
        }
        let mut conn = self.conn().await?;
        conn.transaction::<_, StoreError, _>(async |conn| {
            let mut inserted = 0;
            // trace_ids differ in length between batches, which unnest
            // cannot take as one two-dimensional array: a row per statement.
            for batch in batches {
                inserted += diesel::sql_query(
                    "INSERT INTO trace_span_batches \
                     (tenant_id, service, trace_keys, first_start, last_start, span_count, spans) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind::<Text, _>(batch.tenant_id)
                .bind::<Text, _>(batch.service)
                .bind::<Array<BigInt>, _>(batch.trace_ids.into_iter().map(trace_key).collect::<Vec<_>>())
                .bind::<Timestamptz, _>(batch.first_start)
                .bind::<Timestamptz, _>(batch.last_start)
                .bind::<Integer, _>(batch.span_count)
                .bind::<Binary, _>(batch.spans)
                .execute(conn)
                .await?;
            }
            Ok(inserted)
        })
        .await
    }

    /// The encoded batches of the tenant that may hold spans of `trace_id`
    /// (rarely, a batch of another trace with the same key) and whose newest
    /// span started after `since`, oldest first. Another tenant's batches are
    /// never read.
    pub async fn trace_span_batches(
        &self,
        tenant: &TenantId,
        trace_id: u128,
        since: DateTime<Utc>,
    ) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut conn = self.conn().await?;
        let rows: Vec<EncodedSpans> = diesel::sql_query(
            "SELECT spans FROM trace_span_batches \
             WHERE trace_keys @> ARRAY[$2]::bigint[] AND tenant_id = $1 AND last_start > $3 \
             ORDER BY first_start, id LIMIT $4",
        )
        .bind::<Text, _>(tenant.as_str())
        .bind::<BigInt, _>(trace_key(trace_id))
        .bind::<Timestamptz, _>(since)
        .bind::<BigInt, _>(LOOKUP_BATCHES_MAX)
        .load(&mut conn)
        .await?;
        Ok(rows.into_iter().map(|r| r.spans).collect())
    }

    /// Deletes up to `limit` batches whose newest span started before
    /// `cutoff`; returns how many. Called in a loop, so one purge never holds
    /// a long lock.
    pub async fn purge_spans_before(&self, cutoff: DateTime<Utc>, limit: i64) -> Result<usize, StoreError> {
        let mut conn = self.conn().await?;
        let deleted = diesel::sql_query(
            "DELETE FROM trace_span_batches WHERE id IN \
             (SELECT id FROM trace_span_batches WHERE last_start < $1 LIMIT $2)",
        )
        .bind::<Timestamptz, _>(cutoff)
        .bind::<BigInt, _>(limit)
        .execute(&mut conn)
        .await?;
        Ok(deleted)
    }
}

/// The index key of a trace: the low 64 bits of its id, the part W3C Trace
/// Context (level 2) makes random.
fn trace_key(trace_id: u128) -> i64 {
    // Truncation to the low half, then the same bits as a signed number.
    trace_id as u64 as i64
}
