//! The tenant-scoped span store: finished spans of a tenant's work, written
//! by every service in batches (one row per tenant per flush, the spans
//! encoded by the writer) and found again by trace id for that tenant only.
//! Batches older than the retention are never returned and are purged.
//!
//! A batch lists its traces by key in one of two arrays. Trace ids that
//! Argus makes begin with the second the trace started
//! ([`argus_types::traces`]); a batch written within
//! [`RECENT_TRACE_WINDOW`] of that second lists the trace in
//! `recent_trace_keys`, which is not indexed: the lookup finds such rows by
//! the time they were written (`written_at`, a btree per tenant), a window
//! the trace id itself gives. Every other trace (ids from callers, spans
//! written later) goes to the GIN-indexed `trace_keys`. Almost every span
//! is written within seconds of its trace's start, so almost none cost a
//! GIN entry, which was the larger part of what storing a span cost
//! PostgreSQL.

use std::time::Duration;

use argus_types::TenantId;
use argus_types::traces::{NewSpanBatch, trace_started};
use chrono::{DateTime, SubsecRound as _, Utc};
use diesel::sql_types::{Array, BigInt, Binary, Integer, Text, Timestamptz};
use diesel_async::RunQueryDsl;

use crate::{Store, StoreError};

/// Batches one lookup reads at most: a trace's spans sit in a handful.
const LOOKUP_BATCHES_MAX: i64 = 200;

/// How long after its first second a trace made by Argus is found by the
/// time its batches were written rather than by the GIN index. Longer means
/// fewer GIN entries but more rows for a lookup to filter (a row per
/// tenant per flush of each service: tens a second under full load).
pub const RECENT_TRACE_WINDOW: Duration = Duration::from_secs(30);

/// Whether a batch written at `written_at` lists the trace among its recent
/// ones, which the lookup finds by `written_at`.
fn is_recent(trace_id: u128, written_at: DateTime<Utc>) -> bool {
    let started = trace_started(trace_id);
    started <= written_at && written_at < started + RECENT_TRACE_WINDOW
}

#[derive(diesel::QueryableByName)]
struct EncodedSpans {
    #[diesel(sql_type = Binary)]
    spans: Vec<u8>,
}

impl Store {
    /// Writes span batches, all in one transaction, committed without
    /// waiting for the WAL to reach the disk: a crash of PostgreSQL may lose
    /// the last fraction of a second of spans (never a part of a batch, and
    /// nothing else), which telemetry can afford, and each write saves an
    /// fsync.
    pub async fn insert_span_batches(&self, batches: &[NewSpanBatch]) -> Result<usize, StoreError> {
        if batches.is_empty() {
            return Ok(0);
        }
        self.transaction(async |conn| {
            diesel::sql_query("SET LOCAL synchronous_commit = off").execute(conn).await?;
            let mut inserted = 0;
            // trace_ids differ in length between batches, which unnest
            // cannot take as one two-dimensional array: a row per statement.
            for batch in batches {
                // PostgreSQL keeps microseconds: decide on the time the
                // lookup will read back.
                let written_at = batch.written_at.trunc_subsecs(6);
                let (recent, indexed): (Vec<u128>, Vec<u128>) =
                    batch.trace_ids.iter().partition(|&&id| is_recent(id, written_at));
                inserted += diesel::sql_query(
                    "INSERT INTO trace_span_batches (tenant_id, service, trace_keys, recent_trace_keys, \
                     first_start, last_start, written_at, span_count, spans) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind::<Text, _>(batch.tenant_id.as_str())
                .bind::<Text, _>(batch.service.as_str())
                .bind::<Array<BigInt>, _>(indexed.into_iter().map(trace_key).collect::<Vec<_>>())
                .bind::<Array<BigInt>, _>(recent.into_iter().map(trace_key).collect::<Vec<_>>())
                .bind::<Timestamptz, _>(batch.first_start)
                .bind::<Timestamptz, _>(batch.last_start)
                .bind::<Timestamptz, _>(written_at)
                .bind::<Integer, _>(batch.span_count)
                .bind::<Binary, _>(batch.spans.as_slice())
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
        let started = trace_started(trace_id);
        let rows: Vec<EncodedSpans> = diesel::sql_query(
            // Two selects, not one with OR, so each keeps its own index
            // whatever the planner thinks of the tenant's row count; UNION,
            // as a key shared by two traces can put a row in both.
            "SELECT spans FROM trace_span_batches WHERE id IN ( \
                 SELECT id FROM trace_span_batches \
                 WHERE trace_keys @> ARRAY[$2]::bigint[] AND tenant_id = $1 AND last_start > $3 \
                 UNION \
                 SELECT id FROM trace_span_batches \
                 WHERE tenant_id = $1 AND written_at >= $4 AND written_at < $5 \
                 AND recent_trace_keys @> ARRAY[$2]::bigint[] AND last_start > $3) \
             ORDER BY first_start, id LIMIT $6",
        )
        .bind::<Text, _>(tenant.as_str())
        .bind::<BigInt, _>(trace_key(trace_id))
        .bind::<Timestamptz, _>(since)
        .bind::<Timestamptz, _>(started)
        .bind::<Timestamptz, _>(started + RECENT_TRACE_WINDOW)
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

#[cfg(test)]
mod tests {
    use argus_types::traces::trace_id_started_at;

    use super::*;

    #[test]
    fn an_argus_trace_is_recent_for_the_window_after_its_first_second() {
        let started = DateTime::from_timestamp(1_764_550_000, 0).unwrap();
        let id = trace_id_started_at(1_764_550_000, u128::MAX);
        assert_eq!(trace_started(id), started);
        let window = chrono::Duration::from_std(RECENT_TRACE_WINDOW).unwrap();
        assert!(is_recent(id, started));
        assert!(is_recent(id, started + window - chrono::Duration::microseconds(1)));
        assert!(!is_recent(id, started + window), "later spans go to the GIN index");
        assert!(!is_recent(id, started - chrono::Duration::microseconds(1)), "a writer's clock behind the id's");
        // The key is the random part, the same for both arrays.
        assert_eq!(trace_key(id), -1);
    }
}
