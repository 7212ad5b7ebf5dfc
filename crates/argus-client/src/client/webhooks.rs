//! Webhook subscriptions and their deliveries, at the auth-service.

use chrono::{DateTime, Utc};
use futures_util::Stream;
use serde::{Deserialize, Serialize};

use super::{ArgusClient, Call, Host, segment};
use crate::error::Result;

/// `POST /v1/webhooks`'s body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NewWebhook {
    /// Where deliveries go (`https`).
    pub url: String,
    /// Event types from [`ArgusClient::webhook_event_types`].
    pub events: Vec<String>,
    /// `whsec_` + base64 of 24 to 64 bytes; generated (and returned once)
    /// when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// A note for the people who manage it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `PUT /v1/webhooks/{id}`'s body: only the fields set change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WebhookUpdate {
    /// A new URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// New event types.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<String>>,
    /// A new secret: for 24 hours deliveries are signed with both.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// A new description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Re-enable a disabled webhook, or pause one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// A webhook subscription.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Webhook {
    /// `wh_…`.
    pub id: String,
    /// Where deliveries go.
    pub url: String,
    /// The event types it receives.
    pub events: Vec<String>,
    /// Its description.
    pub description: String,
    /// Whether deliveries are sent.
    pub enabled: bool,
    /// Why it was disabled, if it was.
    #[serde(default)]
    pub disabled_reason: Option<String>,
    /// The last delivery that succeeded.
    #[serde(default)]
    pub last_success_at: Option<DateTime<Utc>>,
    /// Since when deliveries fail, if they do.
    #[serde(default)]
    pub failing_since: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// The generated secret: only in the create response.
    #[serde(default)]
    pub secret: Option<String>,
}

page!(WebhookList, webhooks, Webhook);

/// A delivery's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its first attempt.
    Queued,
    /// The receiver answered 2xx.
    Succeeded,
    /// Failed; another attempt is scheduled.
    Retrying,
    /// Failed for good.
    Failed,
}

impl DeliveryStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Succeeded => "succeeded",
            Self::Retrying => "retrying",
            Self::Failed => "failed",
        }
    }
}

/// One delivery of an event to a webhook.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct WebhookDelivery {
    /// `dlv_…`.
    pub id: String,
    /// The event (the `webhook-id` the receiver saw).
    pub event_id: String,
    /// The event's type.
    pub event_type: String,
    /// Its state.
    pub status: DeliveryStatus,
    /// Attempts so far.
    pub attempts: i32,
    /// The last attempt.
    #[serde(default)]
    pub attempted_at: Option<DateTime<Utc>>,
    /// The receiver's last status code.
    #[serde(default)]
    pub response_status: Option<i32>,
    /// How long the last attempt took.
    #[serde(default)]
    pub duration_ms: Option<i32>,
    /// When the next attempt is due.
    #[serde(default)]
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Why the last attempt failed.
    #[serde(default)]
    pub error: Option<String>,
    /// The first 4 KiB of the receiver's last response.
    #[serde(default)]
    pub response_body: Option<String>,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
}

page!(DeliveryList, deliveries, WebhookDelivery);

/// Which deliveries to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryFilter {
    /// Only in this state.
    pub status: Option<DeliveryStatus>,
    /// Only of this event type.
    pub event_type: Option<String>,
    /// Page size, 1 to 100 (the server's default: 50).
    pub page_size: Option<u32>,
}

/// A delivery queued by a test or a resend.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct QueuedDelivery {
    /// The new delivery's id.
    pub delivery_id: String,
    /// Always `queued`.
    pub status: DeliveryStatus,
}

/// An event type a webhook may subscribe to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct EventType {
    /// E.g. `incident.created`.
    pub name: String,
    /// What it announces.
    pub description: String,
}

impl ArgusClient {
    /// `GET /v1/webhooks/event-types`.
    pub async fn webhook_event_types(&self) -> Result<Vec<EventType>> {
        #[derive(Deserialize)]
        struct List {
            event_types: Vec<EventType>,
        }
        Ok(self.json::<List>(&Call::get(Host::Auth, "/v1/webhooks/event-types")).await?.event_types)
    }

    /// `POST /v1/webhooks` (`webhooks:write`).
    pub async fn create_webhook(&self, webhook: &NewWebhook) -> Result<Webhook> {
        self.json(&Call::post(Host::Auth, "/v1/webhooks").json(webhook)?).await
    }

    /// `GET /v1/webhooks`: every page, `page_size` at a time.
    pub fn list_webhooks(&self) -> impl Stream<Item = Result<Webhook>> + Send + 'static {
        self.list_webhooks_paged(None)
    }

    /// `GET /v1/webhooks` with a page size (1 to 100).
    pub fn list_webhooks_paged(&self, page_size: Option<u32>) -> impl Stream<Item = Result<Webhook>> + Send + 'static {
        self.paginate::<WebhookList>(Call::get(Host::Auth, "/v1/webhooks").query("limit", page_size))
    }

    /// `GET /v1/webhooks/{id}`.
    pub async fn webhook(&self, id: &str) -> Result<Webhook> {
        self.json(&Call::get(Host::Auth, format!("/v1/webhooks/{}", segment(id)))).await
    }

    /// `PUT /v1/webhooks/{id}`.
    pub async fn update_webhook(&self, id: &str, update: &WebhookUpdate) -> Result<Webhook> {
        let call = Call::new(reqwest::Method::PUT, Host::Auth, format!("/v1/webhooks/{}", segment(id)));
        self.json(&call.json(update)?).await
    }

    /// `DELETE /v1/webhooks/{id}`.
    pub async fn delete_webhook(&self, id: &str) -> Result<()> {
        self.empty(&Call::new(reqwest::Method::DELETE, Host::Auth, format!("/v1/webhooks/{}", segment(id)))).await
    }

    /// `GET /v1/webhooks/{id}/deliveries`: every page, newest first.
    pub fn list_deliveries(
        &self,
        webhook_id: &str,
        filter: &DeliveryFilter,
    ) -> impl Stream<Item = Result<WebhookDelivery>> + Send + 'static {
        let call = Call::get(Host::Auth, format!("/v1/webhooks/{}/deliveries", segment(webhook_id)))
            .query("status", filter.status.map(DeliveryStatus::as_str))
            .query("event_type", filter.event_type.as_deref())
            .query("limit", filter.page_size);
        self.paginate::<DeliveryList>(call)
    }

    /// `POST /v1/webhooks/{id}/test`: a synthetic `webhook.test` delivery.
    pub async fn test_webhook(&self, id: &str) -> Result<QueuedDelivery> {
        self.json(&Call::post(Host::Auth, format!("/v1/webhooks/{}/test", segment(id)))).await
    }

    /// `POST /v1/webhooks/{id}/deliveries/{delivery_id}/retry`: sends a
    /// delivery's event again.
    pub async fn resend_delivery(&self, webhook_id: &str, delivery_id: &str) -> Result<QueuedDelivery> {
        let path = format!("/v1/webhooks/{}/deliveries/{}/retry", segment(webhook_id), segment(delivery_id));
        self.json(&Call::post(Host::Auth, path)).await
    }
}
