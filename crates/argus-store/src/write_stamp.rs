//! How a write stamps the ids and times it makes (issue 23).
//!
//! Live, and in a sandbox tenant without a scenario, a write draws fresh
//! ids and takes the clock's time, as it always has, with no statement
//! more. Under a sandbox scenario the same writes must make the same rows
//! after every reset, so a write takes the scenario tenant's next number
//! (`sandbox_scenario_tenants.write_seq`, by `UPDATE … RETURNING` in the
//! write's own transaction: concurrent writes wait for each other and get
//! distinct numbers, and a write that rolls back gives its number back);
//! its time is the scenario's clock plus that many seconds, and its ids
//! are derived from the scenario tenant, their kind, the number and an
//! index.

use argus_crypto::derived_id_bits;
use argus_domain::{DomainEvent, EventKind};
use argus_types::{EventId, TenantId, TimeOrderedId};
use chrono::{DateTime, TimeDelta, Utc};
use diesel::expression::{AppearsOnTable, Expression, SelectableExpression, ValidGrouping};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{Nullable, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::Value;

use crate::schema::sandbox_scenario_tenants;
use crate::{Store, StoreError};

/// What the caller says about a write's ids and times; every store write
/// an API route makes takes one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteStamp {
    /// Fresh ids and the clock's time: every write outside a scenario.
    Now,
    /// The write's tenant is a sandbox scenario's: its ids and times follow
    /// from the scenario's clock and its write sequence.
    Scenario,
}

/// A write's stamp, taken in its transaction, or ahead of it by
/// [`Store::take_write_stamp`].
#[derive(Debug, Clone)]
pub enum Stamp {
    Now,
    /// Made by [`WriteStamp::take`] only, from the scenario's row.
    #[non_exhaustive]
    Scenario {
        tenant: TenantId,
        seq: i64,
        at: DateTime<Utc>,
    },
}

impl WriteStamp {
    /// The stamp of a write to `tenant`: for a scenario's, its next number
    /// (in the caller's transaction); for the rest, nothing is asked.
    pub(crate) async fn take(self, conn: &mut AsyncPgConnection, tenant: &TenantId) -> Result<Stamp, StoreError> {
        match self {
            WriteStamp::Now => Ok(Stamp::Now),
            WriteStamp::Scenario => {
                use sandbox_scenario_tenants::dsl::{clock, sandbox_scenario_tenants as scenario_tenants, write_seq};
                let taken: Option<(i64, DateTime<Utc>)> = diesel::update(scenario_tenants.find(tenant.as_str()))
                    .set(write_seq.eq(write_seq + 1))
                    .returning((write_seq, clock))
                    .get_result(conn)
                    .await
                    .optional()?;
                // No row: the copy was reset while this write waited for
                // it (the reset replaced the row).
                let (seq, scenario_clock) = taken.ok_or_else(|| {
                    StoreError::Conflict("the sandbox scenario was reset while this write ran; send it again".into())
                })?;
                // One second a write: the scenario's items are all at or
                // before its clock, so writes come after them, in order.
                Ok(Stamp::Scenario { tenant: tenant.clone(), seq, at: scenario_clock + TimeDelta::seconds(seq) })
            }
        }
    }
}

impl Store {
    /// A write's stamp taken ahead of its transaction, for a write whose
    /// ids must be known before it opens (a job's id names its input's
    /// chunks as they stream in). A scenario's number is then used up
    /// even by a write refused later.
    pub async fn take_write_stamp(&self, stamp: WriteStamp, tenant: &TenantId) -> Result<Stamp, StoreError> {
        match stamp {
            WriteStamp::Now => Ok(Stamp::Now),
            WriteStamp::Scenario => stamp.take(&mut *self.conn().await?, tenant).await,
        }
    }

    /// Runs `write`, one statement, with its stamp: for `Now` on a pooled
    /// connection with no transaction around it (one statement needs none);
    /// for a scenario in a transaction that takes the write's number first.
    pub(crate) async fn single_statement_write<R, F>(
        &self,
        stamp: WriteStamp,
        tenant: &TenantId,
        write: F,
    ) -> Result<R, StoreError>
    where
        F: for<'c> AsyncFnOnce(&'c mut AsyncPgConnection, &'c Stamp) -> Result<R, StoreError>
            + for<'c> StampedWrite<'c, R>,
        R: Send,
    {
        match stamp {
            WriteStamp::Now => write(&mut *self.conn().await?, &Stamp::Now).await,
            WriteStamp::Scenario => {
                self.transaction(async move |conn| {
                    let stamp = stamp.take(conn, tenant).await?;
                    write(conn, &stamp).await
                })
                .await
            }
        }
    }
}

/// [`Store::single_statement_write`]'s body, with its bounds named, as
/// [`crate::TransactionBody`] does for a transaction's.
pub(crate) trait StampedWrite<'c, R>:
    AsyncFnOnce(&'c mut AsyncPgConnection, &'c Stamp) -> Result<R, StoreError>
    + FnOnce(&'c mut AsyncPgConnection, &'c Stamp) -> Self::Future
    + Send
{
    type Future: std::future::Future<Output = Result<R, StoreError>> + Send;
}

impl<'c, R, F, Fut> StampedWrite<'c, R> for F
where
    F: AsyncFnOnce(&'c mut AsyncPgConnection, &'c Stamp) -> Result<R, StoreError>
        + FnOnce(&'c mut AsyncPgConnection, &'c Stamp) -> Fut
        + Send,
    Fut: std::future::Future<Output = Result<R, StoreError>> + Send,
{
    type Future = Fut;
}

impl Stamp {
    /// A new id: fresh, or the scenario write's `index`th of `kind`.
    pub fn id<I: TimeOrderedId>(&self, kind: &str, index: usize) -> I {
        match self {
            Stamp::Now => I::generate(),
            Stamp::Scenario { tenant, seq, at } => {
                let bits = derived_id_bits(&[tenant.as_str(), "write", kind, &seq.to_string(), &index.to_string()]);
                I::derived(u64::try_from(at.timestamp_millis()).unwrap_or(0), bits)
            }
        }
    }

    /// The write's time as the process sees it.
    pub fn time(&self) -> DateTime<Utc> {
        match self {
            Stamp::Now => Utc::now(),
            Stamp::Scenario { at, .. } => *at,
        }
    }

    /// The write's time in SQL: the database's `CURRENT_TIMESTAMP` (what a
    /// `DEFAULT now()` gives), or the scenario write's.
    pub(crate) fn sql_time(&self) -> SqlTime {
        match self {
            Stamp::Now => SqlTime(None),
            Stamp::Scenario { at, .. } => SqlTime(Some(*at)),
        }
    }

    /// A new event of `kind` about `data`, stamped like the write.
    pub(crate) fn event(&self, tenant: &TenantId, kind: EventKind, data: Value) -> DomainEvent {
        match self {
            Stamp::Now => DomainEvent::new(tenant, kind, data),
            Stamp::Scenario { at, .. } => DomainEvent {
                id: self.id::<EventId>(kind.as_str(), 0),
                tenant: tenant.clone(),
                kind,
                created_at: *at,
                data,
            },
        }
    }
}

/// `coalesce($n, CURRENT_TIMESTAMP)`: one statement text for both stamps,
/// so each statement stays prepared once per connection.
#[derive(Debug, Clone, Copy, QueryId, ValidGrouping)]
pub(crate) struct SqlTime(Option<DateTime<Utc>>);

impl Expression for SqlTime {
    type SqlType = Timestamptz;
}

impl QueryFragment<Pg> for SqlTime {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("coalesce(");
        out.push_bind_param::<Nullable<Timestamptz>, _>(&self.0)?;
        out.push_sql(", CURRENT_TIMESTAMP)");
        Ok(())
    }
}

impl<QS> AppearsOnTable<QS> for SqlTime {}

impl<QS> SelectableExpression<QS> for SqlTime {}
