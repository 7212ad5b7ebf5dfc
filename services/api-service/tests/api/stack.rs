//! The stack under test: a database, an auth-service, api-services and
//! delivery workers, each in process on a port of its own. Shared with the
//! SDK's tests (crates/argus-client/tests), which include this file: it
//! names nothing only the api-service's test binary has.

use std::path::Path;

use api_service::ApiConfig;
use api_service::config::Environment;
use argus_http::discovery::PublicUrls;
use argus_http::serve::Shutdown;
use argus_http::testing::{Received, Receiver};
use argus_store::testing::TestDatabase;
use argus_store::{Store, StoreConfig};
use argus_types::TenantId;
use auth_service::AuthConfig;
use serde_json::{Value, json};

pub const ISSUER: &str = "https://auth.test.knogin.com";
pub const PEPPER: &str = "api-test-pepper";

pub fn api_config(db: &str, jwks_url: &str, environment: Environment) -> ApiConfig {
    ApiConfig {
        listen_addr: "127.0.0.1:0".into(),
        admin_addr: "127.0.0.1:0".into(),
        store: StoreConfig { database_url: db.to_owned(), max_connections: 4 },
        environment,
        issuer: ISSUER.into(),
        public_urls: PublicUrls::new(environment.default_api_url(), ISSUER),
        deprecations_file: None,
        jwks_url: jwks_url.to_owned(),
        migrate: false,
        shutdown: Shutdown::default(),
        trace_retention: std::time::Duration::from_secs(7 * 86_400),
        jobs: api_service::config::JobsApiConfig {
            allow_private_callbacks: true,
            secret_pepper: PEPPER.into(),
            ..Default::default()
        },
        webhooks: Default::default(),
    }
}

/// Starts an api-service; returns its base URL.
pub async fn spawn_api(config: ApiConfig) -> String {
    spawn_api_with_admin(config).await.0
}

/// Starts an api-service; returns the base URLs of its public and its
/// admin address.
pub async fn spawn_api_with_admin(config: ApiConfig) -> (String, String) {
    let app = api_service::build(config).await.unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    let admin = format!("http://127.0.0.1:{}", app.admin_port());
    tokio::spawn(app.run_until_stopped());
    (base, admin)
}

/// Starts an auth-service; returns its base URL and its server handle
/// (stop it to take the service down).
pub async fn spawn_auth(db: &str) -> (String, actix_web::dev::ServerHandle) {
    let app = auth_service::build(AuthConfig {
        shutdown: Shutdown::from_seconds(0, 1),
        ..AuthConfig::local(db, ISSUER, PEPPER)
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
    /// The api-service's admin address (`/metrics`).
    pub api_admin: String,
    pub http: reqwest::Client,
}

impl Stack {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Like [`Stack::start`], with `adjust` applied to the API's config.
    pub async fn start_with(adjust: impl FnOnce(&mut ApiConfig)) -> Self {
        argus_telemetry::init(argus_telemetry::LogFormat::Pretty, "warn");
        Self::start_on(TestDatabase::create().await, adjust).await
    }

    /// A stack whose process writes its spans, as `service`, to the test's
    /// span store. The telemetry is the process's: this works where each
    /// test runs in a process of its own, as under `cargo nextest`.
    pub async fn start_with_span_store(service: &'static str) -> Self {
        Self::start_with_telemetry(telemetry(service, &[])).await
    }

    /// Like [`Stack::start_with_span_store`], with the process's telemetry
    /// as `telemetry` says.
    pub async fn start_with_telemetry(telemetry: argus_telemetry::TelemetryConfig) -> Self {
        let db = TestDatabase::create().await;
        let store = argus_spans::SpanStoreConfig {
            database_url: db.url().to_owned(),
            retention: std::time::Duration::from_secs(86_400),
        };
        // Kept for the life of the process, which ends with the test.
        std::mem::forget(argus_spans::init_service(&telemetry, Some(&store)).unwrap());
        Self::start_on(db, |_| {}).await
    }

    async fn start_on(db: TestDatabase, adjust: impl FnOnce(&mut ApiConfig)) -> Self {
        let (auth, auth_server) = spawn_auth(db.url()).await;
        let mut config = api_config(db.url(), &format!("{auth}/.well-known/jwks.json"), Environment::Live);
        adjust(&mut config);
        let (api, api_admin) = spawn_api_with_admin(config).await;
        Self { store: db.store(), db, auth, auth_server, api, api_admin, http: reqwest::Client::new() }
    }

    /// `GET /metrics` on the api-service's admin address.
    pub async fn scrape(&self) -> argus_http::testing::Scrape {
        let r = self.http.get(format!("{}/metrics", self.api_admin)).send().await.unwrap();
        assert_eq!(r.status(), 200);
        argus_http::testing::Scrape::parse(&r.text().await.unwrap())
    }

    pub fn jwks_url(&self) -> String {
        format!("{}/.well-known/jwks.json", self.auth)
    }

    /// A request to this API's `path` with `token` and `tenant`'s
    /// `X-Tenant-ID`.
    pub fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        tenant: &TenantId,
    ) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.api))
            .bearer_auth(token)
            .header("X-Tenant-ID", tenant.as_str())
    }

    /// A token signed with the auth-service's current key, minted directly
    /// (as `argusctl token admin` does).
    pub async fn mint(&self, tenant: &TenantId, client_id: &str, audience: &str, scopes: &[&str]) -> String {
        sign(&argus_store::testing::current_signing_key(&self.store).await, tenant, client_id, audience, scopes)
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

    /// The JSON answer to the GraphQL request `body`, sent with `token` for
    /// `tenant`.
    pub async fn graphql(&self, token: &str, tenant: &str, body: Value) -> Value {
        post(&self.http, &self.api, Some(token), Some(tenant), body).await.json().await.unwrap()
    }

    pub async fn grant(&self, client: &TestClient, bundle: &str) {
        let id = client.client_id.parse().unwrap();
        self.store.grant_bundle(&client.tenant, &id, bundle).await.unwrap();
    }

    /// A new app of `tenant` (of a new tenant for `None`) holding `scopes`,
    /// granted `bundle`, and a client-credentials token of it.
    pub async fn granted_client(
        &self,
        tenant: Option<&TenantId>,
        scopes: &[&str],
        bundle: &str,
    ) -> (TestClient, String) {
        let client = self.client(tenant, scopes).await;
        self.grant(&client, bundle).await;
        let token = self.cc_token(&client, None).await;
        (client, token)
    }

    /// Where the end-to-end tests start: an app granted the incident
    /// bundle, and a local receiver subscribed to `incident.created`.
    pub async fn incident_hook(&self) -> IncidentHook {
        let ops = self.load_shipped_bundle("incident-webhook-configuration").await;
        let client = self.client(None, &["incidents:read", "incidents:write"]).await;
        self.grant(&client, "incident-webhook-configuration").await;
        let (receiver, secret) = self.subscribe(&client.tenant, &["incident.created"]).await;
        IncidentHook { ops, client, receiver, secret }
    }

    /// A local receiver subscribed to `events` of `tenant`, and the
    /// webhook's signing secret.
    pub async fn subscribe(&self, tenant: &TenantId, events: &[&str]) -> (Receiver, String) {
        let receiver = Receiver::start(Vec::new(), std::time::Duration::ZERO).await;
        let admin = self.admin_token(tenant).await;
        let r = self
            .http
            .post(format!("{}/v1/webhooks", self.auth))
            .bearer_auth(&admin)
            .json(&json!({ "url": receiver.url, "events": events }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let secret = r.json::<Value>().await.unwrap()["secret"].as_str().unwrap().to_owned();
        (receiver, secret)
    }
}

pub struct IncidentHook {
    pub ops: Vec<argus_store::bundles::BundleOperation>,
    pub client: TestClient,
    pub receiver: Receiver,
    /// The webhook's signing secret.
    pub secret: String,
}

impl IncidentHook {
    /// The first request the receiver got, waiting up to 20 s for it.
    pub async fn first_delivery(&self) -> Received {
        let received = self.receiver.wait_for(1, std::time::Duration::from_secs(20)).await;
        received.first().cloned().expect("a delivery in time")
    }
}

/// The telemetry of a test process writing as `service`, with `vars` (the
/// `OTEL_*` and `ARGUS_TRACE_*` variables) read as a service reads its
/// environment.
pub fn telemetry(service: &'static str, vars: &[(&str, &str)]) -> argus_telemetry::TelemetryConfig {
    let quiet = [("ARGUS_LOG_FORMAT", "pretty"), ("RUST_LOG", "warn")];
    let vars = quiet.iter().chain(vars).map(|(name, value)| ((*name).to_owned(), (*value).to_owned()));
    argus_telemetry::TelemetryConfig::from_vars(service, "test", vars).unwrap()
}

/// A token from the test issuer, signed with `key`.
pub fn sign(
    key: &argus_crypto::SigningKey,
    tenant: &TenantId,
    client_id: &str,
    audience: &str,
    scopes: &[&str],
) -> String {
    argus_crypto::testing::access_token(key, ISSUER, audience, tenant, client_id, scopes)
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

/// A delivery worker in this process against `db` and `amqp`, retrying
/// after 0.2 s; cancel the token to stop it.
pub fn spawn_worker(db: &str, amqp: &str) -> argus_bus::CancellationToken {
    let worker = worker(db, amqp);
    let shutdown = worker.shutdown_token();
    tokio::spawn(worker.run_until_stopped());
    shutdown
}

/// A delivery worker against `db` and `amqp`, retrying after 0.2 s, built
/// but not running.
pub fn worker(db: &str, amqp: &str) -> delivery_worker::Worker {
    delivery_worker::Worker::build(delivery_worker::WorkerConfig {
        environment: argus_types::Environment::Live,
        admin_addr: "127.0.0.1:0".into(),
        store: StoreConfig { database_url: db.to_owned(), max_connections: 4 },
        amqp_url: amqp.to_owned(),
        amqp_ca_file: None,
        bus_prefix: "argus".into(),
        secret_pepper: PEPPER.into(),
        retry_schedule: delivery_worker::parse_schedule("0.2").unwrap(),
        allow_private: true,
        request_timeout: std::time::Duration::from_secs(5),
        concurrency: 4,
        per_webhook_in_flight: 8,
        per_tenant_in_flight: 4,
        jobs: Default::default(),
    })
    .unwrap()
}

/// The event kinds (routing keys) waiting in the outbox, which are then
/// marked sent.
pub async fn drain_outbox(stack: &Stack) -> Vec<(String, String)> {
    let seen = std::sync::Mutex::new(Vec::new());
    stack
        .store
        .relay_outbox_batch(1_000, |rows| {
            let ids = rows.iter().map(|r| r.id).collect();
            seen.lock().unwrap().extend(rows.into_iter().map(|r| (r.tenant_id, r.routing_key)));
            std::future::ready(ids)
        })
        .await
        .unwrap();
    seen.into_inner().unwrap()
}
