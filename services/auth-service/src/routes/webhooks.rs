//! Webhook subscriptions and their delivery history: `/v1/webhooks…`.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use argus_authn::{Scoped, WebhooksRead, WebhooksWrite};
use argus_domain::events::is_known_event;
use argus_domain::{DeliveryStatus, EventKind};
use argus_http::Endpoint;
use argus_http::openapi::ScopedErrors;
use argus_http::pagination::{PageQuery, page_request};
use argus_store::webhooks::{DeliveryFilter, DeliveryRecord, NewWebhook, WebhookChanges, WebhookRecord};
use argus_types::{DeliveryId, TenantId, WebhookId, parse_one_of};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;
use crate::ratelimit::ManualSends;

/// What the webhook routes need: the live database's on auth.knogin.com,
/// the sandbox's on sandbox-api.knogin.com (whose webhooks its own worker
/// delivers to its mock connectors).
pub struct WebhooksState {
    pub store: argus_store::Store,
    /// Seals signing secrets at rest (the delivery worker opens them).
    pub sealer: argus_crypto::webhook::SecretBox,
    /// Whether webhook URLs may be plain http or private addresses.
    pub allow_private: bool,
    /// `ARGUS_MAX_WEBHOOKS_PER_TENANT`.
    pub max_per_tenant: usize,
    pub manual_sends: std::sync::Arc<ManualSends>,
}

/// The `/v1/webhooks…` routes, taking [`WebhooksState`] as app data.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(Endpoint::new("/v1/webhooks/event-types").get(event_types))
        .service(Endpoint::new("/v1/webhooks").get(list_webhooks).post(create_webhook))
        .service(Endpoint::new("/v1/webhooks/{webhook_id}").get(get_webhook).put(update_webhook).delete(delete_webhook))
        .service(Endpoint::new("/v1/webhooks/{webhook_id}/deliveries").get(list_deliveries))
        .service(Endpoint::new("/v1/webhooks/{webhook_id}/test").post(test_webhook))
        .service(Endpoint::new("/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry").post(retry_delivery));
}

/// Adds the `/v1/webhooks…` routes' paths, and the schemas they use, to
/// the document of each host that serves them: the auth-service's, and the
/// sandbox API's.
pub struct WebhookPaths;

#[derive(utoipa::OpenApi)]
#[openapi(paths(
    event_types,
    create_webhook,
    list_webhooks,
    get_webhook,
    update_webhook,
    delete_webhook,
    list_deliveries,
    test_webhook,
    retry_delivery,
))]
struct WebhooksDoc;

impl utoipa::Modify for WebhookPaths {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        openapi.merge(<WebhooksDoc as utoipa::OpenApi>::openapi());
    }
}

const MAX_DESCRIPTION_CHARS: usize = 500;
/// How long the previous secret keeps signing after a rotation.
const SECRET_OVERLAP_HOURS: i64 = 24;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    /// `https` (plain http and private addresses only where the deployment
    /// allows them).
    pub url: String,
    /// Event types from `GET /v1/webhooks/event-types`.
    pub events: Vec<String>,
    /// `whsec_` + base64 of 24 to 64 bytes; generated (and shown once) when absent.
    pub secret: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhook {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    /// A new secret: for 24 hours deliveries are signed with both.
    pub secret: Option<String>,
    pub description: Option<String>,
    /// Re-enable a disabled webhook, or pause one.
    pub enabled: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookView {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    pub description: String,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub failing_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Only in the create response, and only when the secret was generated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl From<WebhookRecord> for WebhookView {
    fn from(w: WebhookRecord) -> Self {
        Self {
            id: w.id.into(),
            url: w.url,
            events: w.events,
            description: w.description,
            enabled: w.enabled,
            disabled_reason: w.disabled_reason,
            last_success_at: w.last_success_at,
            failing_since: w.failing_since,
            created_at: w.created_at,
            updated_at: w.updated_at,
            secret: None,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookList {
    pub webhooks: Vec<WebhookView>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    pub id: String,
    pub event_id: String,
    pub event_type: String,
    /// `queued`, `succeeded`, `retrying` or `failed`.
    pub status: String,
    pub attempts: i32,
    pub attempted_at: Option<DateTime<Utc>>,
    pub response_status: Option<i32>,
    pub duration_ms: Option<i32>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
    /// The first 4 KiB of the receiver's last response.
    pub response_body: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<DeliveryRecord> for DeliveryView {
    fn from(d: DeliveryRecord) -> Self {
        Self {
            id: d.id.into(),
            event_id: d.event_id.into(),
            event_type: d.event_type,
            status: d.status.to_string(),
            attempts: d.attempts,
            attempted_at: d.attempted_at,
            response_status: d.response_status,
            duration_ms: d.duration_ms,
            next_attempt_at: d.next_attempt_at,
            error: d.error,
            response_body: d.response_body,
            created_at: d.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryList {
    pub deliveries: Vec<DeliveryView>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QueuedDelivery {
    pub delivery_id: String,
    /// Always `queued`.
    pub status: &'static str,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct DeliveryQuery {
    /// 1 to 100 (default 50).
    pub limit: Option<u32>,
    pub cursor: Option<String>,
    /// `queued`, `succeeded`, `retrying` or `failed`.
    pub status: Option<String>,
    pub event_type: Option<String>,
}

fn not_found(id: &str) -> ApiError {
    ApiError::NotFound(format!("no webhook `{id}` in this tenant"))
}

fn webhook_id(raw: &str) -> Result<WebhookId, ApiError> {
    raw.parse().map_err(|_| not_found(raw))
}

fn validate_events(events: &[String]) -> Result<Vec<String>, ApiError> {
    if events.is_empty() {
        return Err(ApiError::Validation("events must name at least one event type".into()));
    }
    let mut unknown: Vec<&str> = events.iter().filter(|e| !is_known_event(e)).map(String::as_str).collect();
    unknown.sort_unstable();
    unknown.dedup();
    if !unknown.is_empty() {
        return Err(ApiError::Validation(format!("unknown event types: {}", unknown.join(", "))));
    }
    let mut events = events.to_vec();
    events.sort();
    events.dedup();
    Ok(events)
}

/// The URL rules checked at registration (shared with job callbacks); the
/// delivery worker checks the resolved address again at send time.
fn validate_url(raw: &str, allow_private: bool) -> Result<String, ApiError> {
    argus_types::ssrf::validate_target_url(raw, allow_private).map_err(|why| ApiError::Validation(format!("url {why}")))
}

fn validate_description(d: Option<String>) -> Result<Option<String>, ApiError> {
    match d {
        Some(d) if d.chars().count() > MAX_DESCRIPTION_CHARS => {
            Err(ApiError::Validation(format!("description must be at most {MAX_DESCRIPTION_CHARS} characters")))
        }
        other => Ok(other),
    }
}

fn sealed_secret(state: &WebhooksState, secret: &str) -> Result<Vec<u8>, ApiError> {
    argus_crypto::webhook::webhook_signing_key(secret).map_err(|e| ApiError::Validation(format!("secret: {e}")))?;
    Ok(state.sealer.seal(secret.as_bytes()))
}

/// Test sends and resends are limited per tenant, so that no tenant can
/// keep the delivery worker busy with them.
fn check_manual_send(state: &WebhooksState, tenant: &TenantId) -> Result<(), ApiError> {
    state
        .manual_sends
        .check(tenant.as_str())
        .map_err(|retry_after| ApiError::RateLimited { what: "too many test sends and resends", retry_after })
}

/// The event catalog
///
/// Every event type a webhook may subscribe to.
#[utoipa::path(
    get,
    path = "/v1/webhooks/event-types",
    tag = "Event delivery and webhooks",
    security(("bearer" = ["webhooks:read"])),
    responses((status = 200, description = "`{\"event_types\":[{\"name\",\"description\"}]}`"), ScopedErrors)
)]
pub async fn event_types(_caller: Scoped<WebhooksRead>) -> HttpResponse {
    let types: Vec<_> = EventKind::ALL.iter().map(|e| json!({"name": e, "description": e.description()})).collect();
    HttpResponse::Ok().json(json!({ "event_types": types }))
}

/// Create a webhook
///
/// Subscribes a URL to event types. The signing secret is generated and
/// shown once when none is given.
#[utoipa::path(
    post,
    path = "/v1/webhooks",
    tag = "Event delivery and webhooks",
    security(("bearer" = ["webhooks:write"])),
    request_body(content = CreateWebhook, example = json!({
        "url": "https://receiver.example.com/argus/webhooks",
        "events": ["incident.created", "incident.updated"],
        "description": "Dispatch board"
    })),
    responses(
        (status = 201, description = "Created", body = WebhookView),
        (status = 400, description = "Invalid URL, events or secret"),
        (status = 415, description = "Body not application/json"),
        (status = 409, description = "The tenant has as many webhooks as it may (`ARGUS_MAX_WEBHOOKS_PER_TENANT`)"),
        ScopedErrors,
    )
)]
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant()))]
pub async fn create_webhook(
    caller: Scoped<WebhooksWrite>,
    state: web::Data<WebhooksState>,
    body: web::Json<CreateWebhook>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let url = validate_url(&body.url, state.allow_private)?;
    let events = validate_events(&body.events)?;
    let description = validate_description(body.description)?.unwrap_or_default();
    let (secret, generated) = match body.secret {
        Some(s) => (s, false),
        None => (argus_crypto::webhook::generate_webhook_secret(), true),
    };
    let secret_sealed = sealed_secret(&state, &secret)?;
    let new = NewWebhook { url, events, description, secret_sealed };
    let webhook = state
        .store
        .create_webhook(caller.principal().write_stamp(), caller.tenant(), new, state.max_per_tenant)
        .await?;
    tracing::info!(webhook_id = %webhook.id, "webhook created");
    let mut view = WebhookView::from(webhook);
    if generated {
        view.secret = Some(secret);
    }
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/v1/webhooks/{}", view.id)))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(view))
}

/// List webhooks
#[utoipa::path(
    get,
    path = "/v1/webhooks",
    tag = "Event delivery and webhooks",
    security(("bearer" = ["webhooks:read"])),
    params(PageQuery),
    responses(
        (status = 200, description = "One page", body = WebhookList),
        (status = 400, description = "Bad limit or cursor"),
        ScopedErrors,
    )
)]
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant()))]
pub async fn list_webhooks(
    caller: Scoped<WebhooksRead>,
    state: web::Data<WebhooksState>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let request = query.request::<WebhookId>()?;
    let page = state.store.list_webhooks(caller.tenant(), &request).await?;
    let (webhooks, next_cursor) = page.into_listing::<WebhookView>();
    Ok(HttpResponse::Ok().json(WebhookList { webhooks, next_cursor }))
}

/// Inspect a webhook
#[utoipa::path(
    get,
    path = "/v1/webhooks/{webhook_id}",
    tag = "Event delivery and webhooks",
    security(("bearer" = ["webhooks:read"])),
    params(("webhook_id" = String, Path)),
    responses(
        (status = 200, description = "The webhook", body = WebhookView),
        (status = 404, description = "No such webhook in this tenant"),
        ScopedErrors,
    )
)]
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant()))]
pub async fn get_webhook(
    caller: Scoped<WebhooksRead>,
    state: web::Data<WebhooksState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let webhook = state.store.get_webhook(caller.tenant(), &webhook_id(&id)?).await?.ok_or_else(|| not_found(&id))?;
    Ok(HttpResponse::Ok().json(WebhookView::from(webhook)))
}

/// Update a webhook
///
/// Replaces the given fields. A new `secret` rotates the signing secret:
/// for 24 hours deliveries carry signatures under both.
#[utoipa::path(
    put,
    path = "/v1/webhooks/{webhook_id}",
    tag = "Event delivery and webhooks",
    security(("bearer" = ["webhooks:write"])),
    params(("webhook_id" = String, Path)),
    request_body(content = UpdateWebhook, example = json!({
        "events": ["incident.closed", "incident.created", "incident.updated"],
        "description": "Dispatch board, closures too",
        "enabled": true
    })),
    responses(
        (status = 200, description = "Updated", body = WebhookView),
        (status = 400, description = "Invalid URL, events, secret or description"),
        (status = 415, description = "Body not application/json"),
        (status = 404, description = "No such webhook in this tenant"),
        ScopedErrors,
    )
)]
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant()))]
pub async fn update_webhook(
    caller: Scoped<WebhooksWrite>,
    state: web::Data<WebhooksState>,
    id: web::Path<String>,
    body: web::Json<UpdateWebhook>,
) -> Result<HttpResponse, ApiError> {
    let wid = webhook_id(&id)?;
    let body = body.into_inner();
    let changes = WebhookChanges {
        url: body.url.as_deref().map(|u| validate_url(u, state.allow_private)).transpose()?,
        events: body.events.as_deref().map(validate_events).transpose()?,
        description: validate_description(body.description)?,
        enabled: body.enabled,
        secret_sealed: body.secret.as_deref().map(|s| sealed_secret(&state, s)).transpose()?,
        secret_overlap: Duration::hours(SECRET_OVERLAP_HOURS),
    };
    let webhook = state
        .store
        .update_webhook(caller.principal().write_stamp(), caller.tenant(), &wid, changes)
        .await?
        .ok_or_else(|| not_found(&id))?;
    Ok(HttpResponse::Ok().json(WebhookView::from(webhook)))
}

/// Delete a webhook
#[utoipa::path(
    delete,
    path = "/v1/webhooks/{webhook_id}",
    tag = "Event delivery and webhooks",
    security(("bearer" = ["webhooks:write"])),
    params(("webhook_id" = String, Path)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such webhook in this tenant"),
        ScopedErrors,
    )
)]
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant()))]
pub async fn delete_webhook(
    caller: Scoped<WebhooksWrite>,
    state: web::Data<WebhooksState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    if state.store.delete_webhook(caller.tenant(), &webhook_id(&id)?).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(not_found(&id))
    }
}

/// Review delivery attempts
///
/// The webhook's deliveries, newest first, with the outcome of the last
/// attempt; filter by `status` and `event_type`.
#[utoipa::path(
    get,
    path = "/v1/webhooks/{webhook_id}/deliveries",
    tag = "Event delivery and webhooks",
    security(("bearer" = ["webhooks:read"])),
    params(("webhook_id" = String, Path), DeliveryQuery),
    responses(
        (status = 200, description = "One page", body = DeliveryList),
        (status = 400, description = "Bad limit, cursor, status or event type"),
        (status = 404, description = "No such webhook in this tenant"),
        ScopedErrors,
    )
)]
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant()))]
pub async fn list_deliveries(
    caller: Scoped<WebhooksRead>,
    state: web::Data<WebhooksState>,
    id: web::Path<String>,
    query: web::Query<DeliveryQuery>,
) -> Result<HttpResponse, ApiError> {
    let wid = webhook_id(&id)?;
    state.store.get_webhook(caller.tenant(), &wid).await?.ok_or_else(|| not_found(&id))?;
    let request = page_request::<DeliveryId>(query.limit, query.cursor.as_deref())?;
    let status = query.status.as_deref().map(|s| parse_one_of("status", s, DeliveryStatus::NAMES)).transpose();
    let status = status.map_err(ApiError::Validation)?;
    if let Some(t) = &query.event_type
        && !is_known_event(t)
    {
        return Err(ApiError::Validation(format!("unknown event type `{t}`")));
    }
    let filter = DeliveryFilter { status, event_type: query.event_type.clone() };
    let page = state.store.list_deliveries(caller.tenant(), &wid, &filter, &request).await?;
    let (deliveries, next_cursor) = page.into_listing::<DeliveryView>();
    Ok(HttpResponse::Ok().json(DeliveryList { deliveries, next_cursor }))
}

/// Send a test webhook
///
/// Queues a real `webhook.test` delivery to this webhook only.
#[utoipa::path(
    post,
    path = "/v1/webhooks/{webhook_id}/test",
    tag = "Event delivery and webhooks",
    security(("bearer" = ["webhooks:write"])),
    params(("webhook_id" = String, Path)),
    responses(
        (status = 202, description = "Queued", body = QueuedDelivery),
        (status = 404, description = "No such webhook in this tenant"),
        (status = 429, description = "Too many test sends and resends; see Retry-After"),
        ScopedErrors,
    )
)]
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant()))]
pub async fn test_webhook(
    caller: Scoped<WebhooksWrite>,
    state: web::Data<WebhooksState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let wid = webhook_id(&id)?;
    check_manual_send(&state, caller.tenant())?;
    let data = json!({ "webhook_id": wid, "message": "This is a test delivery from Argus." });
    let delivery =
        state.store.create_test_delivery(caller.tenant(), &wid, data).await?.ok_or_else(|| not_found(&id))?;
    Ok(HttpResponse::Accepted()
        .json(QueuedDelivery { delivery_id: delivery.to_string(), status: DeliveryStatus::Queued.as_str() }))
}

/// Resend a delivery
///
/// Queues the delivery again, with the same `webhook-id` and body.
#[utoipa::path(
    post,
    path = "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry",
    tag = "Event delivery and webhooks",
    security(("bearer" = ["webhooks:write"])),
    params(("webhook_id" = String, Path), ("delivery_id" = String, Path)),
    responses(
        (status = 202, description = "Queued", body = QueuedDelivery),
        (status = 404, description = "No such webhook, or no such delivery of it, in this tenant"),
        (status = 409, description = "The delivery is still queued or retrying"),
        (status = 429, description = "Too many test sends and resends; see Retry-After"),
        ScopedErrors,
    )
)]
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant()))]
pub async fn retry_delivery(
    caller: Scoped<WebhooksWrite>,
    state: web::Data<WebhooksState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (raw_webhook, raw_delivery) = path.into_inner();
    let wid = webhook_id(&raw_webhook)?;
    let missing = || ApiError::NotFound(format!("no delivery `{raw_delivery}` for webhook `{raw_webhook}`"));
    let did: DeliveryId = raw_delivery.parse().map_err(|_| missing())?;
    check_manual_send(&state, caller.tenant())?;
    let record = state.store.resend_delivery(caller.tenant(), &wid, &did).await?.ok_or_else(missing)?;
    Ok(HttpResponse::Accepted()
        .json(QueuedDelivery { delivery_id: record.id.into(), status: DeliveryStatus::Queued.as_str() }))
}
