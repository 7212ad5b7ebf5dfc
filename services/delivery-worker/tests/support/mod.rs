//! What the worker's integration tests share: the worker (its config, run
//! in process or as the binary), local receivers for webhooks and job
//! callbacks (argus-http's that answers, one that records when each
//! request came, and one that never answers), their signature check, and
//! events written as a domain write writes them.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use argus_bus::CancellationToken;
use argus_domain::DomainEvent;
use argus_store::{Store, StoreConfig};
use argus_types::{EventId, TenantId};
use delivery_worker::{JobsConfig, Worker, WorkerConfig, parse_schedule};
use serde_json::Value;

pub use argus_http::testing::{Received, Receiver};

/// The issuer the test auth-services sign with.
pub const ISSUER: &str = "https://auth.test.knogin.com";

/// An access token for `client_id` of `tenant` with `scopes`, signed with
/// the store's current key as the auth-service signs them (for the API;
/// an hour's lifetime).
pub async fn token(store: &Store, tenant: &TenantId, client_id: &str, scopes: &[&str]) -> String {
    let key = argus_store::testing::current_signing_key(store).await;
    argus_crypto::testing::access_token(&key, ISSUER, "api.knogin.com", tenant, client_id, scopes)
}

/// Starts an auth-service on a random port over `database_url`; returns its
/// base URL. `pepper` must be the worker's, which unseals webhook secrets.
pub async fn spawn_auth(database_url: &str, pepper: &str, allow_private: bool) -> String {
    let app = auth_service::build(auth_service::AuthConfig {
        webhook_allow_private: allow_private,
        shutdown: argus_http::serve::Shutdown::from_seconds(0, 1),
        ..auth_service::AuthConfig::local(database_url, ISSUER, pepper)
    })
    .await
    .unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    base
}

/// What a domain write does: the event row and its outbox message in one
/// transaction.
pub async fn emit(store: &Store, tenant: &TenantId, event_type: &str, data: Value) -> EventId {
    let event = DomainEvent::new(tenant, event_type.parse().unwrap(), data);
    store.emit_event(&event).await.unwrap();
    event.id
}

/// The body of `r`, once its signature verifies with `secret` (checked with
/// the `standardwebhooks` crate, independent of the signing code).
pub fn verify(secret: &str, r: &Received) -> Value {
    standardwebhooks::Webhook::new(secret)
        .unwrap()
        .verify(&r.body, &r.headers)
        .unwrap_or_else(|e| panic!("signature does not verify: {e:?}"));
    serde_json::from_slice(&r.body).unwrap()
}

/// An endpoint that accepts every connection, reads the request and never
/// answers: a stuck receiver. It records the path of every request and how
/// many connections were open at once.
#[derive(Clone)]
pub struct Hanging {
    base: String,
    seen: Arc<Mutex<HangingState>>,
}

#[derive(Default)]
struct HangingState {
    open: usize,
    most_open: usize,
    paths: Vec<String>,
}

impl Hanging {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let seen: Arc<Mutex<HangingState>> = Arc::default();
        let state = seen.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                {
                    let mut s = state.lock().unwrap();
                    s.open += 1;
                    s.most_open = s.most_open.max(s.open);
                }
                let state = state.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut recorded = false;
                    let mut buf = [0u8; 4096];
                    // Read until the client gives up (EOF), answering nothing.
                    while socket.readable().await.is_ok() {
                        match socket.try_read(&mut buf) {
                            Ok(0) => break,
                            Ok(n) if !recorded => {
                                head.extend_from_slice(&buf[..n]);
                                if let Some(end) = head.windows(2).position(|w| w == b"\r\n") {
                                    let line = String::from_utf8_lossy(&head[..end]).into_owned();
                                    let path = line.split(' ').nth(1).unwrap_or_default().to_owned();
                                    state.lock().unwrap().paths.push(path);
                                    recorded = true;
                                }
                            }
                            Ok(_) => {}
                            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                            Err(_) => break,
                        }
                    }
                    state.lock().unwrap().open -= 1;
                });
            }
        });
        Self { base, seen }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The paths of the requests received so far.
    pub fn paths(&self) -> Vec<String> {
        self.seen.lock().unwrap().paths.clone()
    }

    /// The most connections that were open at once.
    pub fn most_open(&self) -> usize {
        self.seen.lock().unwrap().most_open
    }

    /// The connections open now.
    pub fn open(&self) -> usize {
        self.seen.lock().unwrap().open
    }

    /// The paths once there are `n` requests, or `within` has passed.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<String> {
        argus_http::testing::poll(within, || self.paths(), |paths| paths.len() >= n).await
    }
}

/// A receiver answering 200 after `delay`, recording when each request
/// came (by its `webhook-id`) and the most it was answering at once.
#[derive(Clone)]
pub struct Timed {
    /// `http://127.0.0.1:{port}/hooks`.
    pub url: String,
    seen: Arc<Mutex<TimedState>>,
}

#[derive(Default)]
struct TimedState {
    arrivals: Vec<(String, chrono::DateTime<chrono::Utc>)>,
    open: usize,
    most_open: usize,
}

impl Timed {
    pub async fn start(delay: Duration) -> Self {
        use actix_web::{HttpRequest, HttpResponse, web};
        let seen: Arc<Mutex<TimedState>> = Arc::default();
        let state = seen.clone();
        let base = argus_http::testing::serve_route("/hooks", move || {
            let state = state.clone();
            web::post().to(move |req: HttpRequest| {
                let state = state.clone();
                async move {
                    let id = req.headers().get("webhook-id").and_then(|v| v.to_str().ok()).unwrap_or_default();
                    {
                        let mut s = state.lock().unwrap();
                        s.arrivals.push((id.to_owned(), chrono::Utc::now()));
                        s.open += 1;
                        s.most_open = s.most_open.max(s.open);
                    }
                    tokio::time::sleep(delay).await;
                    state.lock().unwrap().open -= 1;
                    HttpResponse::Ok().body("ok")
                }
            })
        });
        Self { url: format!("{base}/hooks"), seen }
    }

    /// When each request came, by `webhook-id`, once there are `n` or
    /// `within` has passed.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<(String, chrono::DateTime<chrono::Utc>)> {
        argus_http::testing::poll(within, || self.seen.lock().unwrap().arrivals.clone(), |arrivals| arrivals.len() >= n)
            .await
    }

    /// The most requests it was answering at once.
    pub fn most_open(&self) -> usize {
        self.seen.lock().unwrap().most_open
    }
}

/// A worker against one database and vhost, with fast retries and private
/// webhook addresses allowed; callers adjust it and [`start_worker`] it.
pub fn worker_config(database_url: &str, amqp_url: &str, pepper: &str) -> WorkerConfig {
    WorkerConfig {
        environment: argus_types::Environment::Live,
        admin_addr: "127.0.0.1:0".into(),
        store: StoreConfig { database_url: database_url.to_owned(), max_connections: 8 },
        amqp_url: amqp_url.to_owned(),
        amqp_ca_file: None,
        bus_prefix: "argus".into(),
        secret_pepper: pepper.into(),
        retry_schedule: parse_schedule("0.2,0.2").unwrap(),
        allow_private: true,
        request_timeout: Duration::from_secs(5),
        concurrency: 16,
        per_webhook_in_flight: 8,
        per_tenant_in_flight: 16,
        jobs: JobsConfig::default(),
    }
}

/// Starts a worker in this process: the token that stops it, and the base
/// URL of its admin address.
pub fn start_worker(config: WorkerConfig) -> (CancellationToken, String) {
    let worker = Worker::build(config).unwrap();
    let (token, admin) = (worker.shutdown_token(), format!("http://127.0.0.1:{}", worker.admin_port()));
    tokio::spawn(worker.run_until_stopped());
    (token, admin)
}

/// The real worker binary against one database and vhost, quiet, with fast
/// retries and private webhook addresses allowed; callers add their own
/// settings and spawn it.
pub fn worker_command(database_url: &str, amqp_url: &str, pepper: &str) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_delivery-worker"));
    command
        .env("ARGUS_DATABASE_URL", database_url)
        .env("ARGUS_AMQP_URL", amqp_url)
        .env("ARGUS_SECRET_PEPPER", pepper)
        .env("ARGUS_WEBHOOK_ALLOW_PRIVATE", "true")
        .env("ARGUS_WEBHOOK_RETRY_SCHEDULE", "0.2,0.2")
        .env("ARGUS_WORKER_ADMIN_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    command
}
