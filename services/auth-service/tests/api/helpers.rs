use argus_crypto::{SigningKey, TokenGrant, issue_access_token};
use argus_store::Store;
use argus_store::StoreConfig;
use argus_store::keys::KeyState;
use argus_store::testing::TestDatabase;
use argus_types::{ScopeSet, TenantId};
use auth_service::{Application, AuthConfig};
use chrono::Duration;
use serde_json::Value;

pub const ISSUER: &str = "https://auth.test.knogin.com";
pub const AUDIENCE: &str = "api.knogin.com";

pub struct TestApp {
    pub base: String,
    pub store: Store,
    pub http: reqwest::Client,
    // Held so the database is dropped when the test ends.
    _db: TestDatabase,
}

impl TestApp {
    pub async fn spawn() -> Self {
        argus_telemetry::init(argus_telemetry::LogFormat::Pretty, "warn");
        let db = TestDatabase::create().await;
        let config = AuthConfig {
            listen_addr: "127.0.0.1:0".into(),
            store: StoreConfig { database_url: db.url().to_owned(), max_connections: 4 },
            issuer: ISSUER.into(),
            audience: AUDIENCE.into(),
            secret_pepper: "test-pepper".into(),
            migrate: false,
            log_format: argus_telemetry::LogFormat::Pretty,
            log_filter: "warn".into(),
        };
        let app = Application::build(config).await.expect("auth-service starts");
        let base = format!("http://127.0.0.1:{}", app.port());
        tokio::spawn(app.run_until_stopped());
        Self { base, store: db.store(), http: reqwest::Client::new(), _db: db }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn current_key(&self) -> SigningKey {
        let record =
            self.store.live_signing_keys().await.unwrap().into_iter().find(|k| k.state == KeyState::Current).unwrap();
        SigningKey::from_pkcs8_pem(&record.kid, &record.private_key_pem).unwrap()
    }

    /// A token for `tenant` with `scopes`, signed with the current key.
    pub async fn token(&self, tenant: &TenantId, scopes: &[&str]) -> String {
        self.token_with(tenant, scopes, ISSUER, AUDIENCE, Duration::hours(1)).await
    }

    pub async fn token_with(
        &self,
        tenant: &TenantId,
        scopes: &[&str],
        issuer: &str,
        audience: &str,
        lifetime: Duration,
    ) -> String {
        let scopes: ScopeSet = scopes.iter().copied().collect();
        issue_access_token(
            &self.current_key().await,
            &TokenGrant {
                issuer,
                audience,
                tenant,
                subject: "admin:test",
                client_id: "argusctl",
                scopes: &scopes,
                lifetime,
            },
        )
        .unwrap()
        .token
    }

    /// A new tenant and a `platform:admin` token for it.
    pub async fn tenant(&self, name: &str) -> (TenantId, String) {
        let tenant = self.store.create_tenant(name).await.unwrap().id;
        let token = self.token(&tenant, &["platform:admin"]).await;
        (tenant, token)
    }

    pub async fn create_app(&self, token: &str, body: Value) -> reqwest::Response {
        self.http.post(self.url("/v1/platform/apps")).bearer_auth(token).json(&body).send().await.unwrap()
    }

    pub async fn get(&self, token: &str, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).bearer_auth(token).send().await.unwrap()
    }

    pub async fn patch_json(&self, token: &str, path: &str, body: Value) -> reqwest::Response {
        self.http.patch(self.url(path)).bearer_auth(token).json(&body).send().await.unwrap()
    }
}

/// Asserts a problem+json response with `status` and `type` slug, returning
/// the body.
pub async fn expect_problem(response: reqwest::Response, status: u16, slug: &str) -> Value {
    assert_eq!(response.status().as_u16(), status, "status");
    let content_type = response.headers().get("content-type").unwrap().to_str().unwrap().to_owned();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], format!("https://knogin.com/api/problems/{slug}"), "{body}");
    assert_eq!(body["status"], status);
    body
}

pub fn confidential_app() -> Value {
    serde_json::json!({
        "name": "Case sync connector",
        "grant_types": ["client_credentials"],
        "redirect_uris": [],
        "requested_scopes": ["webhooks:write"]
    })
}
