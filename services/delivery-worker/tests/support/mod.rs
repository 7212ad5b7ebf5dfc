//! What the worker's integration tests share: a local receiver for
//! webhooks and job callbacks.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
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
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let script = Arc::new(Mutex::new(VecDeque::from(script)));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let record = got.clone();
        let server = HttpServer::new(move || {
            let (record, script) = (record.clone(), script.clone());
            App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
                let (record, script) = (record.clone(), script.clone());
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
                    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
                        .body(format!("answered {status}"))
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
