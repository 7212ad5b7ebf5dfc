//! The sandbox's mock connectors' record (issue 23): each request its
//! delivery worker would have sent, and the answer the connector gave,
//! scripted by the tenant's scenario (`sandbox_scenario_tenants`).

use argus_types::{OutboxRequestId, TenantId};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::Value;

use crate::schema::{sandbox_outbox, sandbox_scenario_tenants};
use crate::stored_text::Stored;
use crate::tenant_rows::{PageQuery, list_page, tenant_table};
use crate::{Page, PageRequest, Store, StoreError};

/// Which mock connector took a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connector {
    Webhook,
    JobCallback,
}

impl Connector {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::JobCallback => "job_callback",
        }
    }
}

/// A request as the worker would have sent it.
#[derive(Debug, Clone)]
pub struct MockRequest<'a> {
    pub connector: Connector,
    /// Its `webhook-id`: the same on every attempt of one message.
    pub message_id: &'a str,
    pub url: &'a str,
    /// Header name to value, as sent.
    pub headers: Value,
    pub body: &'a str,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sandbox_outbox, check_for_backend(diesel::pg::Pg))]
pub struct OutboxRecord {
    #[diesel(deserialize_as = Stored<OutboxRequestId>)]
    pub id: OutboxRequestId,
    pub connector: String,
    pub message_id: String,
    pub url: String,
    pub headers: Value,
    pub body: String,
    pub status: i32,
    pub sent_at: DateTime<Utc>,
}

tenant_table!(sandbox_outbox);

/// What a connector answers when its script says nothing (no scenario, or
/// an empty script).
const ANSWER_BY_DEFAULT: u16 = 200;

impl Store {
    /// Keeps `request` and answers it: the tenant's script's entry for this
    /// attempt (the requests of the same message to the same URL kept
    /// before it), its last entry past its end, 200 without one.
    pub async fn answer_mock_request(&self, tenant: &TenantId, request: MockRequest<'_>) -> Result<u16, StoreError> {
        self.transaction(async |conn| {
            let script: Option<Vec<i32>> = sandbox_scenario_tenants::table
                .find(tenant.as_str())
                .select(sandbox_scenario_tenants::webhook_answers)
                .first(conn)
                .await
                .optional()?;
            let earlier: i64 = sandbox_outbox::table
                .filter(sandbox_outbox::tenant_id.eq(tenant.as_str()))
                .filter(sandbox_outbox::message_id.eq(request.message_id))
                .filter(sandbox_outbox::url.eq(request.url))
                .count()
                .get_result(conn)
                .await?;
            let script = script.unwrap_or_default();
            let answer = usize::try_from(earlier)
                .ok()
                .and_then(|n| script.get(n).or(script.last()))
                .and_then(|s| u16::try_from(*s).ok())
                .unwrap_or(ANSWER_BY_DEFAULT);
            diesel::insert_into(sandbox_outbox::table)
                .values((
                    sandbox_outbox::id.eq(OutboxRequestId::generate().as_str()),
                    sandbox_outbox::tenant_id.eq(tenant.as_str()),
                    sandbox_outbox::connector.eq(request.connector.as_str()),
                    sandbox_outbox::message_id.eq(request.message_id),
                    sandbox_outbox::url.eq(request.url),
                    sandbox_outbox::headers.eq(&request.headers),
                    sandbox_outbox::body.eq(request.body),
                    sandbox_outbox::status.eq(i32::from(answer)),
                ))
                .execute(conn)
                .await?;
            Ok(answer)
        })
        .await
    }

    /// The tenant's kept requests, oldest first, a page at a time.
    pub async fn list_sandbox_outbox(
        &self,
        tenant: &TenantId,
        page: &PageRequest<OutboxRequestId>,
    ) -> Result<Page<OutboxRecord>, StoreError> {
        let page = PageQuery::oldest_first(page);
        list_page(&mut *self.conn().await?, sandbox_outbox::table, tenant, page, |query| query).await
    }
}
