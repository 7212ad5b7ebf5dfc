//! The job callbacks' bookkeeping: what an attempt needs, and its record.

use argus_domain::CallbackStatus;
use argus_types::{EventId, JobId, TenantId};
use chrono::Utc;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::Value;

use crate::schema::{events, jobs};
use crate::stored_text::Stored;
use crate::tenant_rows::TenantTable;
use crate::{Store, StoreError};

/// Everything a job callback attempt needs.
#[derive(Debug, Clone)]
pub struct CallbackContext {
    pub url: String,
    pub secret_sealed: Vec<u8>,
    pub status: Option<CallbackStatus>,
    pub attempts: i32,
    pub event_id: EventId,
    /// The envelope of the job's terminal event: the callback's body.
    pub envelope: Value,
}

/// The columns [`CallbackContext`] is made of, each optional in the row.
#[derive(Queryable)]
struct CallbackRow {
    url: Option<String>,
    secret_sealed: Option<Vec<u8>>,
    #[diesel(deserialize_as = Stored<Option<CallbackStatus>>)]
    status: Option<CallbackStatus>,
    attempts: i32,
    #[diesel(deserialize_as = Stored<Option<EventId>>)]
    event_id: Option<EventId>,
    envelope: Option<Value>,
}

impl Store {
    /// What a callback attempt needs; `None` when the job or its callback
    /// is gone.
    pub async fn callback_context(&self, tenant: &TenantId, id: &JobId) -> Result<Option<CallbackContext>, StoreError> {
        let mut conn = self.conn().await?;
        let row: Option<CallbackRow> = jobs::table
            .left_join(events::table.on(events::id.nullable().eq(jobs::event_id)))
            .filter(jobs::tenant_id.eq(tenant.as_str()))
            .filter(jobs::id.eq(id.as_str()))
            .select((
                jobs::callback_url,
                jobs::callback_secret_sealed,
                jobs::callback_status,
                jobs::callback_attempts,
                jobs::event_id,
                events::envelope.nullable(),
            ))
            .first(&mut conn)
            .await
            .optional()?;
        Ok(match row {
            Some(CallbackRow {
                url: Some(url),
                secret_sealed: Some(secret_sealed),
                status,
                attempts,
                event_id: Some(event_id),
                envelope: Some(envelope),
            }) => Some(CallbackContext { url, secret_sealed, status, attempts, event_id, envelope }),
            _ => None,
        })
    }

    /// Records one callback attempt: its number, the callback's state
    /// (`pending` while retrying, `succeeded`, `failed`) and the error.
    pub async fn record_callback_attempt(
        &self,
        tenant: &TenantId,
        id: &JobId,
        attempt: i32,
        status: CallbackStatus,
        error: Option<String>,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        diesel::update(jobs::table.tenant_row(tenant, id.as_str()))
            .set((
                jobs::callback_attempts.eq(attempt),
                jobs::callback_status.eq(status.as_str()),
                jobs::callback_last_error.eq(error),
                jobs::updated_at.eq(Utc::now()),
            ))
            .execute(&mut conn)
            .await?;
        Ok(())
    }
}
