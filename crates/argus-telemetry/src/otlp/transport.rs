//! One export over HTTP/protobuf or gRPC: the request's body and headers,
//! each attempt's outcome, and the retries ([`retry`](super::retry)).

use std::time::SystemTime;

use http_body_util::BodyExt as _;
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTracePartialSuccess, ExportTraceServiceResponse};
use prost::Message as _;
use reqwest::header::{CONTENT_ENCODING, CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER, TE};
use tokio::time::Instant;

use super::config::{OtlpCompression, OtlpConfig, OtlpProtocol, error_chain};
use super::encoding::{gunzip, gzip};
use super::grpc::{self, CallStatus};
use super::retry::{self, Attempt, retryable_status};

/// The most of a collector's gzipped answer that is inflated: 4 MiB, gRPC's
/// default limit of a message received.
const ANSWER_LIMIT: u64 = 4 << 20;

/// How the exporter reaches its collector.
pub(crate) struct Transport {
    client: reqwest::Client,
    endpoint: reqwest::Url,
    /// The configured headers, and the protocol's own.
    headers: HeaderMap,
    protocol: OtlpProtocol,
    compression: OtlpCompression,
    timeout: std::time::Duration,
}

impl Transport {
    pub(crate) fn new(config: &OtlpConfig) -> Self {
        let mut headers = config.headers.clone();
        let gzip = config.compression == OtlpCompression::Gzip;
        match config.protocol {
            OtlpProtocol::HttpProtobuf => {
                headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/x-protobuf"));
                if gzip {
                    headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                }
            }
            OtlpProtocol::Grpc => {
                headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
                headers.insert(TE, HeaderValue::from_static("trailers"));
                if gzip {
                    headers.insert("grpc-encoding", HeaderValue::from_static("gzip"));
                    // A gRPC server answers in the call's encoding if it can.
                    headers.insert("grpc-accept-encoding", HeaderValue::from_static("gzip"));
                }
            }
        }
        Self {
            client: config.client.clone(),
            endpoint: config.endpoint.clone(),
            headers,
            protocol: config.protocol,
            compression: config.compression,
            timeout: config.timeout,
        }
    }

    /// Sends `message` (an encoded `ExportTraceServiceRequest`), retried as
    /// the OTLP spec says within the export timeout. The spans the
    /// collector refused, if it says so; `Err` when the batch is lost.
    pub(crate) async fn export(&self, message: Vec<u8>) -> Result<Option<ExportTracePartialSuccess>, String> {
        let deadline = Instant::now() + self.timeout;
        let gzipped = self.compression == OtlpCompression::Gzip;
        let body = match (self.protocol, gzipped) {
            (OtlpProtocol::HttpProtobuf, false) => message,
            (OtlpProtocol::HttpProtobuf, true) => gzip(&message),
            (OtlpProtocol::Grpc, false) => grpc::frame(&message, false),
            (OtlpProtocol::Grpc, true) => grpc::frame(&gzip(&message), true),
        };
        retry::until(deadline, |remaining| self.attempt(body.clone(), remaining)).await
    }

    async fn attempt(&self, body: Vec<u8>, remaining: std::time::Duration) -> Attempt {
        let mut request =
            self.client.post(self.endpoint.clone()).headers(self.headers.clone()).timeout(remaining).body(body);
        if self.protocol == OtlpProtocol::Grpc {
            request = request.header("grpc-timeout", grpc::timeout_header(remaining));
        }
        // No answer (refused, reset, timed out): the spec says to retry.
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => return Attempt::Retry { error: error_chain(&e), after: None },
        };
        if !response.status().is_success() || self.protocol == OtlpProtocol::HttpProtobuf {
            return http_outcome(response).await;
        }
        grpc_outcome(response).await
    }
}

/// An OTLP/HTTP answer; for gRPC, one whose HTTP status failed the call.
async fn http_outcome(response: reqwest::Response) -> Attempt {
    let status = response.status();
    if status.is_success() {
        return Attempt::Accepted(response.bytes().await.ok().and_then(|answer| rejected(&answer)));
    }
    let after = response.headers().get(RETRY_AFTER).and_then(|value| value.to_str().ok());
    let after = after.and_then(|value| retry::retry_after(value, SystemTime::now()));
    let retryable = retryable_status(status);
    // The body of an OTLP/HTTP failure is a google.rpc.Status.
    let message = response.bytes().await.ok().and_then(|body| grpc::Status::decode(body.as_ref()).ok());
    let error = match message.filter(|status| !status.message.is_empty()) {
        Some(message) => format!("the collector answered {status}: {}", message.message),
        None => format!("the collector answered {status}"),
    };
    if retryable { Attempt::Retry { error, after } } else { Attempt::Failed(error) }
}

/// A gRPC answer with HTTP status 200: the call's status decides.
async fn grpc_outcome(response: reqwest::Response) -> Attempt {
    let (head, body) = ::http::Response::<reqwest::Body>::from(response).into_parts();
    let body = match body.collect().await {
        Ok(body) => body,
        // Cut off before the status: the outcome is unknown, so retry.
        Err(e) => return Attempt::Retry { error: error_chain(&e), after: None },
    };
    // A call that fails at once answers in its headers ("trailers-only").
    let trailers = body.trailers().cloned().unwrap_or_default();
    let field = |name: &str| trailers.get(name).or_else(|| head.headers.get(name)).and_then(|v| v.to_str().ok());
    match grpc::call_status(field) {
        CallStatus::Ok => {}
        CallStatus::Retryable { error, delay } => return Attempt::Retry { error, after: delay },
        CallStatus::Failed(error) => return Attempt::Failed(error),
    }
    let answer = body.to_bytes();
    let message = match grpc::unframe(&answer) {
        Some((false, message)) => Some(message.to_vec()),
        Some((true, message)) if field("grpc-encoding") == Some("gzip") => gunzip(message, ANSWER_LIMIT),
        // Unreadable, but the call succeeded.
        _ => None,
    };
    Attempt::Accepted(message.and_then(|message| rejected(&message)))
}

/// The spans a successful export's answer says were refused, if any.
fn rejected(answer: &[u8]) -> Option<ExportTracePartialSuccess> {
    ExportTraceServiceResponse::decode(answer).ok()?.partial_success.filter(|partial| partial.rejected_spans > 0)
}
