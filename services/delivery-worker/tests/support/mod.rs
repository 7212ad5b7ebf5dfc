//! What the worker's integration tests share: local receivers for webhooks
//! and job callbacks (one that answers, one that never does), and events
//! written as a domain write writes them.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

use argus_domain::DomainEvent;
use argus_store::Store;
use argus_types::{EventId, TenantId};
use serde_json::Value;

/// The issuer the test auth-services sign with.
pub const ISSUER: &str = "https://auth.test.knogin.com";

#[derive(Clone, Debug)]
pub struct Received {
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> String {
        self.headers.get(name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// A local webhook receiver answering from a script (then 200), recording
/// every request.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    pub async fn start(script: Vec<u16>, delay: Duration) -> Self {
        Self::start_with_headers(script, delay, &[]).await
    }

    /// Like [`Receiver::start`], with `headers` on every answer.
    pub async fn start_with_headers(
        script: Vec<u16>,
        delay: Duration,
        headers: &[(&'static str, &'static str)],
    ) -> Self {
        let answer_headers = headers.to_vec();
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let script = Arc::new(Mutex::new(VecDeque::from(script)));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let record = got.clone();
        let server = HttpServer::new(move || {
            let (record, script, answer_headers) = (record.clone(), script.clone(), answer_headers.clone());
            App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
                let (record, script, answer_headers) = (record.clone(), script.clone(), answer_headers.clone());
                async move {
                    let mut headers = reqwest::header::HeaderMap::new();
                    for (k, v) in req.headers() {
                        headers.append(
                            reqwest::header::HeaderName::from_bytes(k.as_str().as_bytes()).unwrap(),
                            reqwest::header::HeaderValue::from_bytes(v.as_bytes()).unwrap(),
                        );
                    }
                    tokio::time::sleep(delay).await;
                    record.lock().unwrap().push(Received { headers, body: body.to_vec() });
                    let status = script.lock().unwrap().pop_front().unwrap_or(200);
                    let mut answer = HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap());
                    for header in answer_headers {
                        answer.insert_header(header);
                    }
                    answer.body(format!("answered {status}"))
                }
            }))
        })
        .workers(2)
        .listen(listener)
        .unwrap()
        .run();
        tokio::spawn(server);
        Self { url: format!("http://127.0.0.1:{port}/hooks"), got }
    }

    pub fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Received> {
        let until = Instant::now() + within;
        loop {
            let got = self.received();
            if got.len() >= n || Instant::now() > until {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Starts an auth-service on a random port over `database_url`; returns its
/// base URL. `pepper` must be the worker's, which unseals webhook secrets.
pub async fn spawn_auth(database_url: &str, pepper: &str, allow_private: bool) -> String {
    let app = auth_service::Application::build(auth_service::AuthConfig {
        webhook_allow_private: allow_private,
        shutdown_timeout_seconds: 1,
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

    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<String> {
        let until = Instant::now() + within;
        loop {
            let paths = self.paths();
            if paths.len() >= n || Instant::now() > until {
                return paths;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
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
