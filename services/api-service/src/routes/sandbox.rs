//! The sandbox's own routes (contract 2026.4, "Sandbox environment"):
//! `GET /v1/sandbox/scenarios` lists the scenarios `X-Sandbox-Scenario`
//! selects (see `crate::sandbox::scenarios`), `POST
//! /v1/sandbox/scenarios/{name}/reset` seeds the caller's copy of one
//! afresh; `GET /v1/sandbox/outbox` reads back what the sandbox's mock
//! connectors were sent.

use actix_web::{HttpResponse, web};
use argus_authn::{AuthnError, Principal, TenantScoped, WebhooksRead};
use argus_http::Endpoint;
use argus_http::openapi::{BearerErrors, TenantHeader, TenantScopedErrors};
use argus_store::sandbox_outbox::OutboxRecord;
use argus_store::{PageRequest, Store};
use argus_types::OutboxRequestId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;
use crate::sandbox::scenarios::{ScenarioList, ScenarioTenantsInStore, ScenarioView, Scenarios};

/// App data present on the sandbox API only.
pub struct SandboxHost;

/// List sandbox scenarios
///
/// The named data sets and behaviours of the sandbox
/// (`sandbox-api.knogin.com`), by name. Send `X-Sandbox-Scenario: NAME` with
/// a sandbox token on any route to run the request in that scenario: a
/// tenant of its own for your token's tenant, seeded on first use from the
/// scenario, with stable ids and the scenario's fixed clock, so the same
/// request always gets the same answer. Writes under a scenario work and
/// are as repeatable as reads: each takes the next number of your copy,
/// its time is the scenario's clock plus that many seconds and its ids
/// follow from the number, so the same writes after a reset (`POST
/// /v1/sandbox/scenarios/{name}/reset`) give the same bytes (the delivery
/// worker's webhook deliveries and job runs follow their own timing).
/// Without the header a request runs in your own, empty sandbox tenant.
/// An unknown name is a 404 naming it. Any valid token may list them.
#[utoipa::path(
    get,
    path = "/v1/sandbox/scenarios",
    tag = "Sandbox environment",
    security(("bearer" = [])),
    responses(
        // The example is the shipped list (`openapi::ScenarioListExample`).
        (status = 200, description = "The scenarios", body = ScenarioList),
        BearerErrors,
    )
)]
pub async fn list_scenarios(_caller: Principal, scenarios: web::Data<Scenarios>) -> HttpResponse {
    HttpResponse::Ok().json(scenarios.list())
}

/// Reset a sandbox scenario
///
/// Seeds your copy of the scenario `name` afresh, in one transaction:
/// everything written under `X-Sandbox-Scenario: name` with your token's
/// tenant is deleted, the scenario's items are seeded again with the same
/// ids and times, and its write count starts again from 0, so a write
/// script run after each reset gets the same answers byte for byte (its
/// provenance keys are kept, so transcripts are signed as before). Other
/// tenants' copies are untouched. Answers the scenario as listed. The
/// sandbox only: live answers 404.
///
/// ```sh
/// curl -X POST https://sandbox-api.knogin.com/v1/sandbox/scenarios/mass-casualty-incident/reset \
///   -H "Authorization: Bearer $SANDBOX_TOKEN"
/// ```
#[utoipa::path(
    post,
    path = "/v1/sandbox/scenarios/{name}/reset",
    tag = "Sandbox environment",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "A scenario's name, as listed", example = "mass-casualty-incident")),
    responses(
        (status = 200, description = "Seeded afresh", body = ScenarioView, example = json!({
            "name": "mass-casualty-incident",
            "description": "A coach overturned on the A34: one critical incident and two linked ones, a major-incident case holding them, and the people, vehicles, organisations and places involved, with their relationships.",
            "clock": "2026-05-08T09:00:00Z",
            "connectors": { "webhooks": [] }
        })),
        (status = 404, description = "No such scenario (named in the problem), or not the sandbox: live has no scenarios"),
        BearerErrors,
    )
)]
#[tracing::instrument(skip_all, fields(tenant = %caller.claims.tid, scenario = %name))]
pub async fn reset_scenario(
    caller: Principal,
    tenants: Option<web::Data<ScenarioTenantsInStore>>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let Some(tenants) = tenants else {
        return Err(ApiError::NotFound(
            "live has no scenarios; they are the sandbox's (sandbox-api.knogin.com)".into(),
        ));
    };
    // The copy of the token's own tenant, whichever scenario the request
    // itself runs in.
    match tenants.reset(&caller.claims.tid, &name).await? {
        Some(scenario) => Ok(HttpResponse::Ok().json(scenario)),
        None => Err(ApiError::NotFound(AuthnError::UnknownScenario(name.into_inner()).to_string())),
    }
}

/// One request a mock connector took.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxRequestView {
    pub id: String,
    /// `webhook` (a delivery to one of the tenant's webhooks) or
    /// `job_callback` (a finished job's `callback_url`).
    pub connector: String,
    /// The `webhook-id` header: the event's id (a delivery's), the same on
    /// every attempt.
    pub message_id: String,
    pub url: String,
    /// The request's headers as the worker signed them: `webhook-id`,
    /// `webhook-timestamp`, `webhook-signature` (Standard Webhooks),
    /// `content-type`, `user-agent`, `traceparent`.
    #[schema(value_type = Object)]
    pub headers: serde_json::Value,
    /// The body exactly as signed: verify `webhook-signature` over it.
    pub body: String,
    /// What the connector answered (scripted by the scenario; 200 without one).
    pub status: i32,
    pub sent_at: DateTime<Utc>,
}

impl From<OutboxRecord> for OutboxRequestView {
    fn from(r: OutboxRecord) -> Self {
        Self {
            id: r.id.to_string(),
            connector: r.connector,
            message_id: r.message_id,
            url: r.url,
            headers: r.headers,
            body: r.body,
            status: r.status,
            sent_at: r.sent_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxList {
    /// Oldest first.
    pub requests: Vec<OutboxRequestView>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OutboxQuery {
    /// 1 to 100 (default 50).
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// Read what the sandbox's mock connectors were sent
///
/// In the sandbox no webhook delivery or job callback goes to the network:
/// each request the delivery worker would have sent, signed exactly as live
/// signs it, is kept here with the status the mock connector answered, so
/// a Standard Webhooks verifier can be tested against it. The caller's
/// tenant's requests (or, with `X-Sandbox-Scenario`, its scenario's),
/// oldest first, a page at a time. Only the sandbox has an outbox: live
/// answers 404.
#[utoipa::path(
    get,
    path = "/v1/sandbox/outbox",
    tag = "Sandbox environment",
    security(("bearer" = ["webhooks:read"])),
    params(OutboxQuery, TenantHeader),
    responses(
        (status = 200, description = "One page, oldest first", body = OutboxList, example = json!({
            "requests": [{
                "id": "sbx_01jtv3b7r9m2k4q6s8w0y2a4c6",
                "connector": "webhook",
                "message_id": "evt_01jtv3b7qz8x6v4t2r0p8n6m4k",
                "url": "https://receiver.example.com/argus/webhooks",
                "headers": {
                    "webhook-id": "evt_01jtv3b7qz8x6v4t2r0p8n6m4k",
                    "webhook-timestamp": "1778230800",
                    "webhook-signature": "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=",
                    "content-type": "application/json",
                    "user-agent": "Argus-Webhooks/1"
                },
                "body": "{\"id\":\"evt_01jtv3b7qz8x6v4t2r0p8n6m4k\",\"type\":\"incident.created\"}",
                "status": 503,
                "sent_at": "2026-05-08T09:00:00.412Z"
            }],
            "next_cursor": null
        })),
        (status = 400, description = "Bad limit or cursor"),
        (status = 404, description = "Not the sandbox: live has no outbox"),
        TenantScopedErrors,
    )
)]
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant()))]
pub async fn list_outbox(
    caller: TenantScoped<WebhooksRead>,
    sandbox: Option<web::Data<SandboxHost>>,
    store: web::Data<Store>,
    query: web::Query<OutboxQuery>,
) -> Result<HttpResponse, ApiError> {
    if sandbox.is_none() {
        return Err(ApiError::NotFound(
            "live sends to the network; the mock connectors' outbox is the sandbox's (sandbox-api.knogin.com)".into(),
        ));
    }
    let query = query.into_inner();
    let request = PageRequest::<OutboxRequestId>::from_query(query.limit, query.cursor.as_deref())
        .map_err(ApiError::Validation)?;
    let page = store.list_sandbox_outbox(caller.tenant(), &request).await?;
    let next_cursor = page.encoded_cursor();
    Ok(HttpResponse::Ok()
        .json(OutboxList { requests: page.items.into_iter().map(OutboxRequestView::from).collect(), next_cursor }))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(Endpoint::new("/v1/sandbox/scenarios").get(list_scenarios))
        .service(Endpoint::new("/v1/sandbox/scenarios/{name}/reset").post(reset_scenario))
        .service(Endpoint::new("/v1/sandbox/outbox").get(list_outbox));
}
