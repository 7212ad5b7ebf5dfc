use argus_crypto::{SigningKey, TokenGrant, issue_access_token};
use argus_store::Store;
use argus_store::testing::TestDatabase;
use argus_types::{ScopeSet, TenantId};
use auth_service::AuthConfig;
use chrono::Duration;
use serde_json::Value;

pub const ISSUER: &str = "https://auth.test.knogin.com";
pub const AUDIENCE: &str = "api.knogin.com";

pub struct TestApp {
    pub base: String,
    /// The admin address (`/metrics`).
    pub admin: String,
    pub store: Store,
    pub http: reqwest::Client,
    database_url: String,
    // Held (by the first instance) so the database is dropped when the test
    // ends.
    _db: Option<TestDatabase>,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Starts the service with a config the test may adjust first.
    pub async fn spawn_with(adjust: impl FnOnce(&mut AuthConfig)) -> Self {
        argus_telemetry::init(argus_telemetry::LogFormat::Pretty, "warn");
        let db = TestDatabase::create().await;
        let (base, admin) = Self::start(db.url(), adjust).await;
        let (store, database_url) = (db.store(), db.url().to_owned());
        Self { base, admin, store, http: reqwest::Client::new(), database_url, _db: Some(db) }
    }

    /// Another instance over the database of one already running (which
    /// keeps the database): a second replica, or the same data under
    /// another config.
    pub async fn spawn_on(database_url: &str, adjust: impl FnOnce(&mut AuthConfig)) -> Self {
        let (base, admin) = Self::start(database_url, adjust).await;
        let store = argus_store::Store::connect(&argus_store::StoreConfig {
            database_url: database_url.to_owned(),
            max_connections: 2,
        })
        .unwrap();
        Self { base, admin, store, http: reqwest::Client::new(), database_url: database_url.to_owned(), _db: None }
    }

    /// The base URLs of the public and the admin address.
    async fn start(database_url: &str, adjust: impl FnOnce(&mut AuthConfig)) -> (String, String) {
        let mut config = AuthConfig::local(database_url, ISSUER, "test-pepper");
        adjust(&mut config);
        let app = auth_service::build(config).await.expect("auth-service starts");
        let base = format!("http://127.0.0.1:{}", app.port());
        let admin = format!("http://127.0.0.1:{}", app.admin_port());
        tokio::spawn(app.run_until_stopped());
        (base, admin)
    }

    /// `GET /metrics` on the admin address.
    pub async fn scrape(&self) -> argus_http::testing::Scrape {
        let r = self.http.get(format!("{}/metrics", self.admin)).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "text/plain; version=0.0.4; charset=utf-8");
        argus_http::testing::Scrape::parse(&r.text().await.unwrap())
    }

    pub fn database_url(&self) -> &str {
        &self.database_url
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn current_key(&self) -> SigningKey {
        argus_store::testing::current_signing_key(&self.store).await
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

impl TestApp {
    /// Registers an app and returns its client id and (for confidential
    /// clients) its secret.
    pub async fn register(&self, admin: &str, body: Value) -> (String, Option<String>) {
        let r = self.create_app(admin, body).await;
        assert_eq!(r.status(), 201);
        let v: Value = r.json().await.unwrap();
        (v["client_id"].as_str().unwrap().to_owned(), v["client_secret"].as_str().map(str::to_owned))
    }

    /// POSTs a form to a token-family endpoint, optionally with Basic auth.
    pub async fn form(&self, path: &str, form: &[(&str, &str)], basic: Option<(&str, &str)>) -> reqwest::Response {
        let mut req = self.http.post(self.url(path)).form(form);
        if let Some((id, secret)) = basic {
            req = req.basic_auth(id, Some(secret));
        }
        req.send().await.unwrap()
    }

    pub async fn post_json(&self, token: &str, path: &str, body: Value) -> reqwest::Response {
        self.http.post(self.url(path)).bearer_auth(token).json(&body).send().await.unwrap()
    }

    /// A user who can sign in.
    pub async fn user(&self, tenant: &TenantId, email: &str, password: &str) {
        let hash = argus_crypto::hash_password(password).unwrap();
        self.store.create_user(tenant, email, &hash).await.unwrap();
    }

    /// A client that keeps cookies and does not follow redirects, like a
    /// browser whose navigation the test steps through.
    pub fn browserless(&self) -> reqwest::Client {
        reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap()
    }
}

/// Asserts an RFC 6749 error body with `status` and `error`.
pub async fn expect_oauth_error(response: reqwest::Response, status: u16, error: &str) -> Value {
    assert_eq!(response.status().as_u16(), status, "status for {error}");
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], error, "{body}");
    assert!(body["error_description"].is_string());
    body
}

pub use argus_http::testing::hidden_field;

/// The query parameters of a redirect's `Location`.
pub fn location_params(response: &reqwest::Response) -> std::collections::HashMap<String, String> {
    let location = response.headers()["location"].to_str().unwrap();
    let url = reqwest::Url::parse(location).unwrap();
    url.query_pairs().into_owned().collect()
}

/// The real auth-service binary over `database_url`, quiet, on a free
/// port (its base URL comes with it) and its admin address on another;
/// callers add their own settings and spawn it.
pub fn auth_binary(database_url: &str) -> (std::process::Command, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_auth-service"));
    command
        .env("ARGUS_DATABASE_URL", database_url)
        .env("ARGUS_AUTH_ADDR", format!("127.0.0.1:{port}"))
        .env("ARGUS_AUTH_ADMIN_ADDR", "127.0.0.1:0")
        .env("ARGUS_SECRET_PEPPER", "test-pepper")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    (command, format!("http://127.0.0.1:{port}"))
}
