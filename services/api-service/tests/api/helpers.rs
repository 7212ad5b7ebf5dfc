//! The stack under test: a database, an auth-service, and api-services.

use std::path::Path;

use api_service::config::Environment;
use api_service::{ApiConfig, Application};
use argus_store::testing::TestDatabase;
use argus_store::{Store, StoreConfig};
use argus_types::TenantId;
use auth_service::{AuthConfig, OAuthConfig};
use serde_json::{Value, json};

pub const ISSUER: &str = "https://auth.test.knogin.com";
pub const PEPPER: &str = "api-test-pepper";

pub fn api_config(db: &str, jwks_url: &str, environment: Environment) -> ApiConfig {
    ApiConfig {
        listen_addr: "127.0.0.1:0".into(),
        store: StoreConfig { database_url: db.to_owned(), max_connections: 4 },
        environment,
        issuer: ISSUER.into(),
        audience: environment.audience().into(),
        jwks_url: jwks_url.to_owned(),
        migrate: false,
        drain_delay_seconds: 0,
        shutdown_timeout_seconds: 30,
        jobs: api_service::config::JobsApiConfig {
            allow_private_callbacks: true,
            secret_pepper: PEPPER.into(),
            ..Default::default()
        },
        log_format: argus_telemetry::LogFormat::Pretty,
        log_filter: "warn".into(),
    }
}

/// Starts an api-service; returns its base URL.
pub async fn spawn_api(config: ApiConfig) -> String {
    let app = Application::build(config).await.unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    base
}

/// Starts an auth-service; returns its base URL and its server handle
/// (stop it to take the service down).
pub async fn spawn_auth(db: &str) -> (String, actix_web::dev::ServerHandle) {
    let app = auth_service::Application::build(AuthConfig {
        listen_addr: "127.0.0.1:0".into(),
        store: StoreConfig { database_url: db.to_owned(), max_connections: 4 },
        issuer: ISSUER.into(),
        audience: "api.knogin.com".into(),
        secret_pepper: PEPPER.into(),
        webhook_allow_private: true,
        trust_forwarded_for: false,
        oauth: OAuthConfig::default(),
        drain_delay_seconds: 0,
        shutdown_timeout_seconds: 1,
        migrate: false,
        log_format: argus_telemetry::LogFormat::Pretty,
        log_filter: "warn".into(),
    })
    .await
    .unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    (base, handle)
}

/// An app registered through the auth-service, with its credentials.
pub struct TestClient {
    pub tenant: TenantId,
    pub client_id: String,
    pub secret: String,
}

pub struct Stack {
    pub db: TestDatabase,
    pub store: Store,
    pub auth: String,
    pub auth_server: actix_web::dev::ServerHandle,
    pub api: String,
    pub http: reqwest::Client,
}

impl Stack {
    pub async fn start() -> Self {
        argus_telemetry::init(argus_telemetry::LogFormat::Pretty, "warn");
        let db = TestDatabase::create().await;
        let (auth, auth_server) = spawn_auth(db.url()).await;
        let api = spawn_api(api_config(db.url(), &format!("{auth}/.well-known/jwks.json"), Environment::Live)).await;
        Self { store: db.store(), db, auth, auth_server, api, http: reqwest::Client::new() }
    }

    pub fn jwks_url(&self) -> String {
        format!("{}/.well-known/jwks.json", self.auth)
    }

    /// A token signed with the auth-service's current key, minted directly
    /// (as `argusctl token admin` does).
    pub async fn mint(&self, tenant: &TenantId, client_id: &str, audience: &str, scopes: &[&str]) -> String {
        let record = self
            .store
            .live_signing_keys()
            .await
            .unwrap()
            .into_iter()
            .find(|k| k.state == argus_store::keys::KeyState::Current)
            .unwrap();
        let key = argus_crypto::SigningKey::from_pkcs8_pem(&record.kid, &record.private_key_pem).unwrap();
        sign(&key, tenant, client_id, audience, scopes)
    }

    pub async fn admin_token(&self, tenant: &TenantId) -> String {
        self.mint(tenant, "argusctl", "api.knogin.com", &["platform:admin", "webhooks:read", "webhooks:write"]).await
    }

    /// A tenant and a confidential client-credentials app in it, holding
    /// `scopes`.
    pub async fn client(&self, tenant: Option<&TenantId>, scopes: &[&str]) -> TestClient {
        let tenant = match tenant {
            Some(t) => t.clone(),
            None => self.store.create_tenant("tenant").await.unwrap().id,
        };
        let admin = self.admin_token(&tenant).await;
        let r = self
            .http
            .post(format!("{}/v1/platform/apps", self.auth))
            .bearer_auth(&admin)
            .json(&json!({
                "name": "GraphQL connector",
                "grant_types": ["client_credentials"],
                "redirect_uris": [],
                "requested_scopes": scopes,
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let v: Value = r.json().await.unwrap();
        TestClient {
            tenant,
            client_id: v["client_id"].as_str().unwrap().to_owned(),
            secret: v["client_secret"].as_str().unwrap().to_owned(),
        }
    }

    /// A client-credentials token from the auth-service's token endpoint.
    pub async fn cc_token(&self, client: &TestClient, scope: Option<&str>) -> String {
        let mut form = vec![("grant_type", "client_credentials")];
        if let Some(s) = scope {
            form.push(("scope", s));
        }
        let r = self
            .http
            .post(format!("{}/v1/oauth/token", self.auth))
            .basic_auth(&client.client_id, Some(&client.secret))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned()
    }

    /// Loads `docs/bundles/NAME.graphql` (as `argusctl bundle load` does).
    pub async fn load_shipped_bundle(&self, name: &str) -> Vec<argus_store::bundles::BundleOperation> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/bundles").join(format!("{name}.graphql"));
        let source = std::fs::read_to_string(path).unwrap();
        self.load_bundle(name, &source).await
    }

    pub async fn load_bundle(&self, name: &str, source: &str) -> Vec<argus_store::bundles::BundleOperation> {
        let ops = argus_store::bundles::parse_bundle_file(source).unwrap();
        self.store.load_bundle(name, &ops).await.unwrap();
        ops
    }

    pub async fn grant(&self, client: &TestClient, bundle: &str) {
        let id = client.client_id.parse().unwrap();
        self.store.grant_bundle(&client.tenant, &id, bundle).await.unwrap();
    }
}

pub fn sign(
    key: &argus_crypto::SigningKey,
    tenant: &TenantId,
    client_id: &str,
    audience: &str,
    scopes: &[&str],
) -> String {
    let scopes: argus_types::ScopeSet = scopes.iter().copied().collect();
    argus_crypto::issue_access_token(
        key,
        &argus_crypto::TokenGrant {
            issuer: ISSUER,
            audience,
            tenant,
            subject: client_id,
            client_id,
            scopes: &scopes,
            lifetime: chrono::Duration::hours(1),
        },
    )
    .unwrap()
    .token
}

/// The operation's text from a parsed bundle.
pub fn op<'a>(
    ops: &'a [argus_store::bundles::BundleOperation],
    name: &str,
) -> &'a argus_store::bundles::BundleOperation {
    ops.iter().find(|o| o.name == name).unwrap()
}

/// POSTs a GraphQL request body to `base/graphql` with a token and tenant.
pub async fn post(
    http: &reqwest::Client,
    base: &str,
    token: Option<&str>,
    tenant: Option<&str>,
    body: Value,
) -> reqwest::Response {
    let mut req = http.post(format!("{base}/graphql")).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(t) = tenant {
        req = req.header("X-Tenant-ID", t);
    }
    req.send().await.unwrap()
}

/// The single error code of a response body.
pub fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"].as_str().unwrap_or_default()
}
