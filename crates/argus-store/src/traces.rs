//! The tenant-scoped span store: finished spans of a tenant's work, written
//! in batches by every service and read back by trace id for that tenant
//! only. Rows older than the retention are never returned and are purged.

use argus_types::TenantId;
use chrono::{DateTime, Utc};
use diesel::sql_types::{Array, Double, Jsonb, Nullable, Text, Timestamptz};
use diesel_async::RunQueryDsl;

use crate::{Store, StoreError};

/// One finished span, as stored.
#[derive(Debug, Clone, PartialEq, diesel::QueryableByName)]
pub struct StoredSpan {
    #[diesel(sql_type = Text)]
    pub tenant_id: String,
    /// 32 lowercase hex digits.
    #[diesel(sql_type = Text)]
    pub trace_id: String,
    /// 16 lowercase hex digits.
    #[diesel(sql_type = Text)]
    pub span_id: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub parent_span_id: Option<String>,
    /// The service that recorded the span (`api-service`, ...).
    #[diesel(sql_type = Text)]
    pub service: String,
    #[diesel(sql_type = Text)]
    pub name: String,
    /// `internal`, `server`, `client`, `producer` or `consumer`.
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = Timestamptz)]
    pub start_time: DateTime<Utc>,
    #[diesel(sql_type = Double)]
    pub duration_ms: f64,
    /// `unset`, `ok` or `error`.
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = Jsonb)]
    pub attributes: serde_json::Value,
}

impl Store {
    /// Writes a batch of spans in one statement. A span already stored (the
    /// same tenant, trace and span id) is left as it is.
    pub async fn insert_spans(&self, spans: &[StoredSpan]) -> Result<usize, StoreError> {
        if spans.is_empty() {
            return Ok(0);
        }
        let column = |f: fn(&StoredSpan) -> String| spans.iter().map(f).collect::<Vec<_>>();
        let mut conn = self.conn().await?;
        // One INSERT ... SELECT FROM unnest(arrays) per batch: a single round
        // trip and a single plan, whatever the batch size.
        let inserted = diesel::sql_query(
            "INSERT INTO trace_spans (tenant_id, trace_id, span_id, parent_span_id, service, name, kind, \
             start_time, duration_ms, status, attributes) \
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
             $7::text[], $8::timestamptz[], $9::float8[], $10::text[], $11::jsonb[]) \
             ON CONFLICT DO NOTHING",
        )
        .bind::<Array<Text>, _>(column(|s| s.tenant_id.clone()))
        .bind::<Array<Text>, _>(column(|s| s.trace_id.clone()))
        .bind::<Array<Text>, _>(column(|s| s.span_id.clone()))
        .bind::<Array<Nullable<Text>>, _>(spans.iter().map(|s| s.parent_span_id.clone()).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(column(|s| s.service.clone()))
        .bind::<Array<Text>, _>(column(|s| s.name.clone()))
        .bind::<Array<Text>, _>(column(|s| s.kind.clone()))
        .bind::<Array<Timestamptz>, _>(spans.iter().map(|s| s.start_time).collect::<Vec<_>>())
        .bind::<Array<Double>, _>(spans.iter().map(|s| s.duration_ms).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(column(|s| s.status.clone()))
        .bind::<Array<Jsonb>, _>(spans.iter().map(|s| s.attributes.clone()).collect::<Vec<_>>())
        .execute(&mut conn)
        .await?;
        Ok(inserted)
    }

    /// The tenant's spans of one trace that started after `since`, oldest
    /// first. Another tenant's spans of the same trace id are never read.
    pub async fn trace_spans(
        &self,
        tenant: &TenantId,
        trace_id: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<StoredSpan>, StoreError> {
        let mut conn = self.conn().await?;
        let spans = diesel::sql_query(
            "SELECT tenant_id, trace_id, span_id, parent_span_id, service, name, kind, start_time, duration_ms, \
             status, attributes FROM trace_spans \
             WHERE tenant_id = $1 AND trace_id = $2 AND start_time > $3 \
             ORDER BY start_time, span_id LIMIT 10000",
        )
        .bind::<Text, _>(tenant.as_str())
        .bind::<Text, _>(trace_id)
        .bind::<Timestamptz, _>(since)
        .load(&mut conn)
        .await?;
        Ok(spans)
    }

    /// Deletes up to `limit` spans that started before `cutoff`; returns how
    /// many. Called in a loop, so one purge never holds a long lock.
    pub async fn purge_spans_before(&self, cutoff: DateTime<Utc>, limit: i64) -> Result<usize, StoreError> {
        let mut conn = self.conn().await?;
        let deleted = diesel::sql_query(
            "DELETE FROM trace_spans WHERE ctid IN \
             (SELECT ctid FROM trace_spans WHERE start_time < $1 LIMIT $2)",
        )
        .bind::<Timestamptz, _>(cutoff)
        .bind::<diesel::sql_types::BigInt, _>(limit)
        .execute(&mut conn)
        .await?;
        Ok(deleted)
    }
}
