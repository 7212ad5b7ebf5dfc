//! The SDK against a running stack: an auth-service, an api-service and a
//! delivery worker in this process, on their own database and RabbitMQ
//! vhost (the api-service tests' harness, shared), and against local test
//! servers for what the stack does not do on demand (429s, slow answers).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod apps;
mod data;
mod extractors;
mod graphql;
mod jobs;
mod retries;
mod verifiers;
mod webhooks;

/// The api-service tests' stack; not every helper is used here.
#[allow(dead_code)]
#[path = "../../../../services/api-service/tests/api/stack.rs"]
mod stack;

use argus_client::{ArgusClient, Credentials, RetryPolicy};
use stack::{Stack, TestClient};

/// An SDK client of the stack with `credentials`.
pub fn sdk(stack: &Stack, credentials: Credentials) -> ArgusClient {
    ArgusClient::builder()
        .auth_url(&stack.auth)
        .api_url(&stack.api)
        .credentials(credentials)
        .retry(RetryPolicy::never())
        .build()
        .unwrap()
}

/// The SDK client of a registered app, minting its own tokens, for its tenant.
pub fn app_client(stack: &Stack, app: &TestClient) -> ArgusClient {
    sdk(
        stack,
        Credentials::ClientCredentials {
            client_id: app.client_id.clone(),
            client_secret: app.secret.clone(),
            scope: None,
        },
    )
    .with_tenant(app.tenant.as_str())
}

/// The SDK client of a tenant's admin (`platform:admin`, webhooks).
pub async fn admin_client(stack: &Stack, tenant: &argus_types::TenantId) -> ArgusClient {
    sdk(stack, Credentials::Bearer(stack.admin_token(tenant).await)).with_tenant(tenant.as_str())
}
