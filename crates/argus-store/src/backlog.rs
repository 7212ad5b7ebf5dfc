//! How much work is waiting, for the worker's metrics: the outbox rows the
//! broker has not confirmed, and the jobs queued or running. Every tenant
//! together, on purpose: this is the operators' view, and no tenant id
//! becomes a label. Each query reads only an index of unfinished rows
//! (`outbox_unsent`, `jobs_unfinished_idx`), so sampling it every few
//! seconds costs little however large the tables grow.

use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamptz};
use diesel_async::RunQueryDsl;

use crate::{Store, StoreError};

/// The outbox rows waiting for the broker.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct OutboxBacklog {
    /// Unsent rows, counted up to the limit asked for.
    #[diesel(sql_type = BigInt)]
    pub unsent: i64,
    /// When the oldest unsent row was written.
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub oldest_unsent_at: Option<DateTime<Utc>>,
}

/// Jobs of one kind in one unfinished status.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct JobCount {
    #[diesel(sql_type = Text)]
    pub kind: String,
    /// `queued` or `running`.
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = BigInt)]
    pub jobs: i64,
}

/// What the jobs queue looks like now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobBacklog {
    /// Only the kinds and statuses that have jobs.
    pub counts: Vec<JobCount>,
    /// When the oldest queued job was created.
    pub oldest_queued_at: Option<DateTime<Utc>>,
    /// Running jobs whose lease ran out: their worker stopped checkpointing
    /// and no other attempt has claimed them yet.
    pub lease_expired: i64,
}

#[derive(QueryableByName)]
struct QueueEnds {
    #[diesel(sql_type = Nullable<Timestamptz>)]
    oldest_queued_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = BigInt)]
    lease_expired: i64,
}

impl Store {
    /// Unsent outbox rows (counted up to `count_up_to`, so a huge backlog
    /// costs no more than that) and the oldest one's time.
    pub async fn outbox_backlog(&self, count_up_to: i64) -> Result<OutboxBacklog, StoreError> {
        let mut conn = self.conn().await?;
        let backlog = diesel::sql_query(
            "SELECT (SELECT count(*) FROM (SELECT 1 FROM outbox LIMIT $1) AS unsent) AS unsent, \
                    (SELECT created_at FROM outbox ORDER BY id LIMIT 1) AS oldest_unsent_at",
        )
        .bind::<BigInt, _>(count_up_to)
        .get_result(&mut conn)
        .await?;
        Ok(backlog)
    }

    /// Jobs queued and running by kind, the oldest queued one, and the
    /// running ones whose lease ran out.
    pub async fn job_backlog(&self) -> Result<JobBacklog, StoreError> {
        let mut conn = self.conn().await?;
        let counts = diesel::sql_query(
            "SELECT kind, status, count(*) AS jobs FROM jobs \
             WHERE status IN ('queued', 'running') GROUP BY kind, status ORDER BY kind, status",
        )
        .load(&mut conn)
        .await?;
        let ends: QueueEnds = diesel::sql_query(
            "SELECT (SELECT min(created_at) FROM jobs WHERE status = 'queued') AS oldest_queued_at, \
                    (SELECT count(*) FROM jobs WHERE status = 'running' AND lease_expires_at < now()) AS lease_expired",
        )
        .get_result(&mut conn)
        .await?;
        Ok(JobBacklog { counts, oldest_queued_at: ends.oldest_queued_at, lease_expired: ends.lease_expired })
    }
}
