//! A local webhook receiver for the tests of the services that send
//! webhooks and callbacks (api-service end to end, the delivery worker).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
}

impl Received {
    /// The header `name` as text; empty when absent.
    pub fn header(&self, name: &str) -> String {
        self.headers.get(name).map(|v| v.to_str().expect("a text header").to_owned()).unwrap_or_default()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// A local webhook receiver answering from a script (then 200), recording
/// every request.
#[derive(Clone)]
pub struct Receiver {
    /// `http://127.0.0.1:{port}/hooks`.
    pub url: String,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    /// Answers the statuses of `script` in turn, then 200, each after
    /// `delay`.
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
        let record = got.clone();
        // Every path and method: the webhook's URL is the caller's choice.
        let base = super::serve_route("/{tail:.*}", move || {
            let (record, script, answer_headers) = (record.clone(), script.clone(), answer_headers.clone());
            web::to(move |req: HttpRequest, body: web::Bytes| {
                let (record, script, answer_headers) = (record.clone(), script.clone(), answer_headers.clone());
                async move {
                    let mut headers = http::HeaderMap::new();
                    for (k, v) in req.headers() {
                        headers.append(
                            http::HeaderName::from_bytes(k.as_str().as_bytes()).expect("a header name"),
                            http::HeaderValue::from_bytes(v.as_bytes()).expect("a header value"),
                        );
                    }
                    tokio::time::sleep(delay).await;
                    record.lock().expect("the record").push(Received { headers, body: body.to_vec() });
                    let status = script.lock().expect("the script").pop_front().unwrap_or(200);
                    let status = actix_web::http::StatusCode::from_u16(status).expect("a status code");
                    let mut answer = HttpResponse::build(status);
                    for header in answer_headers {
                        answer.insert_header(header);
                    }
                    answer.body(format!("answered {}", status.as_u16()))
                }
            })
        });
        Self { url: format!("{base}/hooks"), got }
    }

    pub fn received(&self) -> Vec<Received> {
        self.got.lock().expect("the record").clone()
    }

    /// What was received once there are `n` requests, or `within` has
    /// passed.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Received> {
        super::poll(within, || self.received(), |got| got.len() >= n).await
    }
}
