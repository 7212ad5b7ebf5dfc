//! OTLP export of the spans the pipeline encoded, to a collector in batches,
//! over HTTP/protobuf (the default) or gRPC.
//!
//! This replaces opentelemetry-otlp's exporter, which takes `SpanData` on a
//! thread of its own and converts every span into freshly allocated
//! opentelemetry-proto messages there; at request rate that alone cost
//! several percent of throughput, and the span store needed the same spans
//! encoded once more (docs/architecture.md, "Why not opentelemetry-otlp's
//! exporter", has the figures). Here each span is encoded once, on the
//! thread that ended it, and a batch's body is the encoded spans framed by
//! the generated messages' own encodings: the request is byte for byte a
//! prost-encoded `ExportTraceServiceRequest`, which a test checks against
//! opentelemetry-proto's conversion of the same spans. Over gRPC the same
//! message goes in a gRPC frame to `TraceService/Export` on HTTP/2, and the
//! call's outcome is read from the `grpc-status` trailer; a gRPC stack
//! (tonic) would add a second HTTP/2 client and code generation for one
//! unary call.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argus_types::env::{ConfigError, parse_var};
use http_body_util::BodyExt as _;
use opentelemetry::InstrumentationScope;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess as ExportPartialSuccess, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::InstrumentationScope as ProtoScope;
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_sdk::Resource;
use prost::Message as _;
use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::chunks::{COLLECT_EVERY, FullChunks, Inbox, Partials, length_delimited};

/// Export requests in flight at once; beyond, spans wait in the queue.
const IN_FLIGHT: usize = 2;
/// Full chunks waiting for the exporter; beyond, they are dropped.
const QUEUE_CHUNKS: usize = 128;
/// How often failures and drops are logged at most.
const REPORT_EVERY: Duration = Duration::from_secs(30);
/// The OTLP trace service's one method, as a gRPC path.
pub const GRPC_EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
/// A gRPC message's frame header: a compression flag and a big-endian length.
const GRPC_FRAME_HEADER: usize = 5;

/// The OTLP transport (`OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`, else
/// `OTEL_EXPORTER_OTLP_PROTOCOL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpProtocol {
    /// `http/protobuf` (the default): POST to `…/v1/traces`.
    HttpProtobuf,
    /// `grpc`: the unary `TraceService/Export` call over HTTP/2, cleartext
    /// (prior knowledge) for `http://` endpoints and TLS for `https://`.
    Grpc,
}

/// Where and how spans are exported: the standard OpenTelemetry variables.
#[derive(Debug, Clone)]
pub struct OtlpConfig {
    pub protocol: OtlpProtocol,
    /// Over HTTP/protobuf, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as given,
    /// else `OTEL_EXPORTER_OTLP_ENDPOINT` followed by `/v1/traces`. Over
    /// gRPC, the scheme, host and port of either, and [`GRPC_EXPORT_PATH`].
    pub endpoint: reqwest::Url,
    /// `OTEL_EXPORTER_OTLP_HEADERS`, then `OTEL_EXPORTER_OTLP_TRACES_HEADERS`:
    /// `key=value` pairs separated by commas, values percent-encoded.
    pub headers: reqwest::header::HeaderMap,
    /// `OTEL_EXPORTER_OTLP_TRACES_TIMEOUT` or `OTEL_EXPORTER_OTLP_TIMEOUT`, in
    /// milliseconds (default 10000): how long one export may take.
    pub timeout: Duration,
    /// `OTEL_BSP_SCHEDULE_DELAY`, in milliseconds (default 5000): how long a
    /// span may wait for a batch to fill.
    pub schedule_delay: Duration,
    /// `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` (default 512): spans per request,
    /// about (spans come in chunks of up to 256).
    pub max_export_batch_size: usize,
    /// `OTEL_BSP_MAX_QUEUE_SIZE` (default 2048): spans waiting to be sent at
    /// most; beyond, the oldest are dropped, so a collector that is down
    /// never holds more.
    pub max_queue_size: usize,
}

impl OtlpConfig {
    /// `None` when neither endpoint variable is set (or both are empty).
    pub fn from_environment() -> Result<Option<Self>, ConfigError> {
        let set = |name: &str| std::env::var(name).ok().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let protocol = match ["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"]
            .into_iter()
            .find_map(|name| Some((name, set(name)?)))
        {
            None => OtlpProtocol::HttpProtobuf,
            Some((_, protocol)) if protocol == "http/protobuf" => OtlpProtocol::HttpProtobuf,
            Some((_, protocol)) if protocol == "grpc" => OtlpProtocol::Grpc,
            Some((name, protocol)) => {
                return Err(ConfigError {
                    name,
                    reason: format!("`{protocol}` is not supported: use http/protobuf or grpc"),
                });
            }
        };
        let endpoint = match (set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"), set("OTEL_EXPORTER_OTLP_ENDPOINT")) {
            (Some(traces), _) => (traces, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
            (None, Some(base)) if protocol == OtlpProtocol::HttpProtobuf => {
                (format!("{}/v1/traces", base.trim_end_matches('/')), "OTEL_EXPORTER_OTLP_ENDPOINT")
            }
            (None, Some(base)) => (base, "OTEL_EXPORTER_OTLP_ENDPOINT"),
            (None, None) => return Ok(None),
        };
        let (endpoint, name) = endpoint;
        let mut endpoint =
            reqwest::Url::parse(&endpoint)
                .ok()
                .filter(|url| matches!(url.scheme(), "http" | "https"))
                .ok_or_else(|| ConfigError { name, reason: format!("`{endpoint}` is not an http(s) URL") })?;
        if protocol == OtlpProtocol::Grpc {
            // A gRPC endpoint names the server; the method names the path.
            endpoint.set_path(GRPC_EXPORT_PATH);
            endpoint.set_query(None);
        }
        let mut headers = reqwest::header::HeaderMap::new();
        for name in ["OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"] {
            if let Some(list) = set(name) {
                parse_headers(&list, &mut headers).map_err(|reason| ConfigError { name, reason })?;
            }
        }
        let timeout = match set("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT") {
            Some(_) => parse_var("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", 10_000)?,
            None => parse_var("OTEL_EXPORTER_OTLP_TIMEOUT", 10_000)?,
        };
        let positive = |name: &'static str, default: u64| -> Result<u64, ConfigError> {
            match parse_var(name, default)? {
                0 => Err(ConfigError { name, reason: "must be at least 1".into() }),
                n => Ok(n),
            }
        };
        Ok(Some(Self {
            protocol,
            endpoint,
            headers,
            timeout: Duration::from_millis(timeout),
            schedule_delay: Duration::from_millis(positive("OTEL_BSP_SCHEDULE_DELAY", 5_000)?),
            max_export_batch_size: usize::try_from(positive("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512)?)
                .unwrap_or(usize::MAX),
            max_queue_size: usize::try_from(positive("OTEL_BSP_MAX_QUEUE_SIZE", 2_048)?).unwrap_or(usize::MAX),
        }))
    }
}

/// `key=value,key2=value2`, values percent-decoded (the OTLP exporter spec).
fn parse_headers(list: &str, headers: &mut reqwest::header::HeaderMap) -> Result<(), String> {
    for pair in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').ok_or_else(|| format!("`{pair}` is not key=value"))?;
        let value = percent_encoding::percent_decode_str(value.trim()).decode_utf8_lossy();
        let key = reqwest::header::HeaderName::from_bytes(key.trim().as_bytes())
            .map_err(|_| format!("`{}` is not a header name", key.trim()))?;
        let value = reqwest::header::HeaderValue::from_str(&value)
            .map_err(|_| format!("the value of `{key}` is not a header value"))?;
        headers.insert(key, value);
    }
    Ok(())
}

/// Spans of one instrumentation scope, encoded, on their way to the
/// exporter.
#[derive(Debug)]
pub(crate) struct ScopeChunk {
    pub(crate) scope: InstrumentationScope,
    /// Entries of `ScopeSpans.spans`, one after another.
    pub(crate) bytes: Vec<u8>,
    pub(crate) spans: usize,
}

/// Starts the exporter on the current tokio runtime.
pub(crate) fn start(config: OtlpConfig, resource: &Resource, partials: Partials<ScopeChunk>) -> Inbox<ScopeChunk> {
    let chunks = FullChunks::new(QUEUE_CHUNKS, "otlp");
    let (flush, flushes) = mpsc::channel(4);
    let client = reqwest::Client::builder().timeout(config.timeout);
    let client = match config.protocol {
        OtlpProtocol::HttpProtobuf => client,
        OtlpProtocol::Grpc => client.http2_prior_knowledge(),
    };
    let exporter = Exporter {
        client: client.build().unwrap_or_default(),
        resource: encoded_resource(resource),
        pending: VecDeque::new(),
        pending_spans: 0,
        in_flight: Arc::new(Semaphore::new(IN_FLIGHT)),
        report: Arc::new(Report::default()),
        chunks: chunks.clone(),
        config,
    };
    tokio::spawn(exporter.run(flushes, partials));
    Inbox { chunks, flush }
}

/// `ResourceSpans.resource` and `.schema_url`, encoded once.
fn encoded_resource(resource: &Resource) -> Vec<u8> {
    let resource = ResourceAttributesWithSchema::from(resource);
    let mut out = Vec::new();
    let proto = ProtoResource { attributes: resource.attributes.0, ..Default::default() };
    prost::encoding::message::encode(1, &proto, &mut out);
    if let Some(schema_url) = resource.schema_url.filter(|s| !s.is_empty()) {
        prost::encoding::string::encode(3, &schema_url, &mut out);
    }
    out
}

/// The body of one export: an `ExportTraceServiceRequest` with one
/// `ResourceSpans`, and a `ScopeSpans` per scope in the order first seen;
/// over gRPC, in a gRPC frame.
fn export_body(resource: &[u8], chunks: &[ScopeChunk], protocol: OtlpProtocol) -> Vec<u8> {
    let mut scopes: Vec<(&InstrumentationScope, Vec<u8>)> = Vec::new();
    for chunk in chunks {
        let at = match scopes.iter().position(|(scope, _)| **scope == chunk.scope) {
            Some(at) => at,
            None => {
                let mut scope_spans = Vec::new();
                let proto = ProtoScope::from((&chunk.scope, None));
                prost::encoding::message::encode(1, &proto, &mut scope_spans);
                scopes.push((&chunk.scope, scope_spans));
                scopes.len() - 1
            }
        };
        scopes[at].1.extend_from_slice(&chunk.bytes);
    }
    let mut resource_spans = resource.to_vec();
    for (scope, mut scope_spans) in scopes {
        if let Some(schema_url) = scope.schema_url().filter(|s| !s.is_empty()) {
            prost::encoding::string::encode(3, &schema_url.to_owned(), &mut scope_spans);
        }
        length_delimited(2, &scope_spans, &mut resource_spans);
    }
    let header = match protocol {
        OtlpProtocol::HttpProtobuf => 0,
        OtlpProtocol::Grpc => GRPC_FRAME_HEADER,
    };
    let mut request = Vec::with_capacity(header + resource_spans.len() + 8);
    request.resize(header, 0);
    length_delimited(1, &resource_spans, &mut request);
    if protocol == OtlpProtocol::Grpc {
        // Uncompressed (flag 0), then the message's length. A message over
        // 4 GiB cannot be framed; batches are a few hundred spans.
        let length = u32::try_from(request.len() - header).unwrap_or(u32::MAX);
        request[1..header].copy_from_slice(&length.to_be_bytes());
    }
    request
}

/// Failures and drops since they were last logged.
#[derive(Default)]
struct Report {
    failures: AtomicU64,
    rejected: AtomicU64,
    last: Mutex<Option<Instant>>,
    last_error: Mutex<String>,
}

struct Exporter {
    config: OtlpConfig,
    client: reqwest::Client,
    resource: Vec<u8>,
    pending: VecDeque<ScopeChunk>,
    pending_spans: usize,
    in_flight: Arc<Semaphore>,
    report: Arc<Report>,
    /// Full chunks from the request threads; their drops and the
    /// exporter's own are counted together.
    chunks: Arc<FullChunks<ScopeChunk>>,
}

impl Exporter {
    async fn run(mut self, mut flushes: mpsc::Receiver<oneshot::Sender<()>>, partials: Partials<ScopeChunk>) {
        let mut tick = tokio::time::interval(self.config.schedule_delay);
        let mut collect = tokio::time::interval(COLLECT_EVERY);
        collect.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = collect.tick() => {
                    self.collect_full();
                    self.send(false);
                }
                _ = tick.tick() => {
                    self.collect(&partials);
                    self.send(true);
                    self.report();
                }
                flush = flushes.recv() => {
                    self.collect(&partials);
                    self.drain().await;
                    // None: the pipeline is gone, and this was the last.
                    let Some(done) = flush else { return };
                    let _ = done.send(());
                }
            }
        }
    }

    /// Takes the full chunks queued by the request threads.
    fn collect_full(&mut self) {
        for chunk in self.chunks.take() {
            self.queue(chunk);
        }
    }

    fn queue(&mut self, chunk: ScopeChunk) {
        self.pending_spans += chunk.spans;
        self.pending.push_back(chunk);
        // Oldest out first: a collector that is down never holds more.
        while self.pending_spans > self.config.max_queue_size
            && let Some(oldest) = self.pending.pop_front()
        {
            self.pending_spans -= oldest.spans;
            self.chunks.count_dropped(oldest.spans);
        }
    }

    /// Takes the full chunks, then the shards' partial ones.
    fn collect(&mut self, partials: &Partials<ScopeChunk>) {
        self.collect_full();
        for chunk in partials() {
            self.queue(chunk);
        }
    }

    /// Sends full batches, and with `all` the rest too, as far as the
    /// requests in flight allow.
    fn send(&mut self, all: bool) {
        let batch = self.config.max_export_batch_size;
        while self.pending_spans >= batch || (all && self.pending_spans > 0) {
            let Ok(permit) = self.in_flight.clone().try_acquire_owned() else { return };
            let mut spans = 0;
            let take = self.pending.iter().take_while(|c| {
                let fits = spans < batch;
                spans += c.spans;
                fits
            });
            let count = take.count().max(1);
            let chunks: Vec<ScopeChunk> = self.pending.drain(..count).collect();
            let sent: usize = chunks.iter().map(|c| c.spans).sum();
            self.pending_spans -= sent;
            let body = export_body(&self.resource, &chunks, self.config.protocol);
            drop(chunks);
            let request = self.client.post(self.config.endpoint.clone()).headers(self.config.headers.clone());
            let (report, protocol, timeout) = (self.report.clone(), self.config.protocol, self.config.timeout);
            tokio::spawn(async move {
                let outcome = match protocol {
                    OtlpProtocol::HttpProtobuf => export_http(request, body).await,
                    OtlpProtocol::Grpc => export_grpc(request, body, timeout).await,
                };
                // Lost: all of a failed export, the refused part of a partial success.
                let lost = outcome.as_ref().map_or(sent, |p| p.as_ref().map_or(0, |p| p.rejected_spans as usize));
                crate::metrics::spans_dropped("otlp", lost);
                report.record(outcome);
                drop(permit);
            });
        }
    }

    /// Sends everything and waits for the requests to finish.
    async fn drain(&mut self) {
        while self.pending_spans > 0 {
            self.send(true);
            // Wait for a free slot, then loop to use it.
            if let Ok(permit) = self.in_flight.acquire().await {
                drop(permit);
            }
        }
        let _all_done = self.in_flight.acquire_many(IN_FLIGHT as u32).await;
        self.report();
    }

    fn report(&self) {
        let mut last = self.report.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if last.is_some_and(|at| at.elapsed() < REPORT_EVERY) {
            return;
        }
        let dropped = self.chunks.dropped.swap(0, Ordering::Relaxed);
        let failures = self.report.failures.swap(0, Ordering::Relaxed);
        let rejected = self.report.rejected.swap(0, Ordering::Relaxed);
        if dropped + failures + rejected == 0 {
            return;
        }
        let error =
            std::mem::take(&mut *self.report.last_error.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        tracing::warn!(
            endpoint = %self.config.endpoint, dropped, failed_exports = failures, rejected_spans = rejected,
            last_error = %error, "OTLP export is losing spans"
        );
        *last = Some(Instant::now());
    }
}

impl Report {
    fn record(&self, outcome: Result<Option<ExportPartialSuccess>, String>) {
        let error = match outcome {
            Ok(None) => return,
            // A partial success names spans the collector refused.
            Ok(Some(partial)) => {
                self.rejected.fetch_add(u64::try_from(partial.rejected_spans).unwrap_or(0), Ordering::Relaxed);
                partial.error_message
            }
            Err(error) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                error
            }
        };
        *self.last_error.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = error;
    }
}

/// The spans a successful export's answer says were refused, if any.
fn rejected(answer: &[u8]) -> Option<ExportPartialSuccess> {
    ExportTraceServiceResponse::decode(answer).ok()?.partial_success.filter(|partial| partial.rejected_spans > 0)
}

async fn export_http(request: reqwest::RequestBuilder, body: Vec<u8>) -> Result<Option<ExportPartialSuccess>, String> {
    let response = request
        .header(reqwest::header::CONTENT_TYPE, "application/x-protobuf")
        .body(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("the collector answered {}", response.status()));
    }
    Ok(response.bytes().await.ok().and_then(|answer| rejected(&answer)))
}

async fn export_grpc(
    request: reqwest::RequestBuilder,
    body: Vec<u8>,
    timeout: Duration,
) -> Result<Option<ExportPartialSuccess>, String> {
    let response = request
        .header(reqwest::header::CONTENT_TYPE, "application/grpc")
        .header(reqwest::header::TE, "trailers")
        .header("grpc-timeout", format!("{}m", timeout.as_millis().min(99_999_999)))
        .body(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if response.status() != reqwest::StatusCode::OK {
        return Err(format!("the collector answered {}", response.status()));
    }
    let (head, body) = ::http::Response::<reqwest::Body>::from(response).into_parts();
    let body = body.collect().await.map_err(|e| e.to_string())?;
    // A call that fails at once answers in its headers ("trailers-only").
    let trailers = body.trailers().cloned().unwrap_or_default();
    grpc_outcome(&head.headers, &trailers, &body.to_bytes())
}

/// A gRPC call's outcome from its headers, trailers and answer (framed).
fn grpc_outcome(
    headers: &reqwest::header::HeaderMap,
    trailers: &reqwest::header::HeaderMap,
    answer: &[u8],
) -> Result<Option<ExportPartialSuccess>, String> {
    let field = |name: &str| trailers.get(name).or_else(|| headers.get(name)).and_then(|v| v.to_str().ok());
    match field("grpc-status") {
        Some("0") => {}
        Some(code) => {
            let message = field("grpc-message").unwrap_or_default();
            let message = percent_encoding::percent_decode_str(message).decode_utf8_lossy();
            return Err(format!("the collector answered gRPC status {code}: {message}"));
        }
        None => return Err("the collector's answer has no gRPC status".into()),
    }
    // One uncompressed message: we offer no compression.
    Ok(answer.get(GRPC_FRAME_HEADER..).filter(|_| answer.first() == Some(&0)).and_then(rejected))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::SpanEncoder;
    use opentelemetry::KeyValue;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
    use opentelemetry_sdk::trace::SpanData;

    fn span(id: u64, scope: &InstrumentationScope) -> SpanData {
        let mut span = crate::test_span(0xabc, id, 0);
        span.span_kind = opentelemetry::trace::SpanKind::Server;
        span.name = format!("span {id}").into();
        span.attributes = vec![KeyValue::new("n", i64::try_from(id).unwrap())];
        span.instrumentation_scope = scope.clone();
        span
    }

    #[test]
    fn a_body_is_what_opentelemetry_proto_makes_of_the_same_spans() {
        let resource = Resource::builder()
            .with_service_name("api-service")
            .with_schema_url(
                [KeyValue::new("deployment.environment.name", "test")],
                "https://opentelemetry.io/schemas/1.36.0",
            )
            .build();
        let ours = InstrumentationScope::builder("api-service").with_version("1.2.3").build();
        let theirs = InstrumentationScope::builder("lib").with_schema_url("https://example.com/s").build();
        let spans = vec![span(1, &ours), span(2, &ours), span(3, &theirs), span(4, &ours)];
        // Chunks as the pipeline makes them: one scope each.
        let mut encoder = SpanEncoder::default();
        let chunks: Vec<ScopeChunk> = [&spans[..2], &spans[2..3], &spans[3..]]
            .into_iter()
            .map(|group| {
                let mut bytes = Vec::new();
                for span in group {
                    encoder.encode(span, |_| true, &mut bytes);
                }
                ScopeChunk { scope: group[0].instrumentation_scope.clone(), bytes, spans: group.len() }
            })
            .collect();
        let body = export_body(&encoded_resource(&resource), &chunks, OtlpProtocol::HttpProtobuf);
        let expected = ExportTraceServiceRequest {
            resource_spans: group_spans_by_resource_and_scope(spans, &ResourceAttributesWithSchema::from(&resource)),
        };
        assert_eq!(ExportTraceServiceRequest::decode(body.as_slice()).unwrap(), expected);

        // Over gRPC: the same message, after an uncompressed frame header.
        let framed = export_body(&encoded_resource(&resource), &chunks, OtlpProtocol::Grpc);
        assert_eq!(framed[0], 0, "not compressed");
        assert_eq!(u32::from_be_bytes(framed[1..5].try_into().unwrap()) as usize, body.len());
        assert_eq!(&framed[5..], body.as_slice());
    }

    fn header_map(pairs: &[(&'static str, &'static str)]) -> reqwest::header::HeaderMap {
        pairs.iter().map(|(k, v)| (reqwest::header::HeaderName::from_static(k), v.parse().unwrap())).collect()
    }

    fn grpc_frame(message: &impl prost::Message) -> Vec<u8> {
        let bytes = message.encode_to_vec();
        let mut framed = vec![0];
        framed.extend_from_slice(&u32::try_from(bytes.len()).unwrap().to_be_bytes());
        framed.extend_from_slice(&bytes);
        framed
    }

    #[test]
    fn a_grpc_answer_is_read_from_its_status_and_message() {
        let none = header_map(&[]);
        let ok = header_map(&[("grpc-status", "0")]);
        let accepted = grpc_frame(&ExportTraceServiceResponse::default());
        assert_eq!(grpc_outcome(&none, &ok, &accepted), Ok(None));
        let partial = ExportPartialSuccess { rejected_spans: 3, error_message: "too old".into() };
        let answer = grpc_frame(&ExportTraceServiceResponse { partial_success: Some(partial.clone()) });
        assert_eq!(grpc_outcome(&none, &ok, &answer), Ok(Some(partial)));
        // A call refused at once answers in its headers, with no body.
        let unavailable = header_map(&[("grpc-status", "14"), ("grpc-message", "shutting%20down")]);
        assert_eq!(
            grpc_outcome(&unavailable, &none, &[]),
            Err("the collector answered gRPC status 14: shutting down".into())
        );
        // The trailers decide when both are present.
        assert!(grpc_outcome(&ok, &header_map(&[("grpc-status", "8")]), &accepted).is_err());
        assert!(grpc_outcome(&none, &none, &accepted).is_err(), "no status is no success");
    }

    fn chunk(marker: u8, spans: usize) -> ScopeChunk {
        ScopeChunk { scope: InstrumentationScope::builder("s").build(), bytes: vec![marker], spans }
    }

    #[test]
    fn a_full_queue_drops_the_oldest_spans_and_counts_them() {
        let config = OtlpConfig {
            protocol: OtlpProtocol::HttpProtobuf,
            endpoint: reqwest::Url::parse("http://127.0.0.1:9/v1/traces").unwrap(),
            headers: reqwest::header::HeaderMap::new(),
            timeout: Duration::from_secs(1),
            schedule_delay: Duration::from_secs(5),
            max_export_batch_size: 512,
            max_queue_size: 600,
        };
        let mut exporter = Exporter {
            client: reqwest::Client::new(),
            resource: Vec::new(),
            pending: VecDeque::new(),
            pending_spans: 0,
            in_flight: Arc::new(Semaphore::new(IN_FLIGHT)),
            report: Arc::default(),
            chunks: FullChunks::new(QUEUE_CHUNKS, "otlp"),
            config,
        };
        for marker in 1..=4 {
            exporter.queue(chunk(marker, 200));
        }
        assert_eq!(exporter.pending_spans, 600);
        assert_eq!(exporter.chunks.dropped.load(Ordering::Relaxed), 200);
        let kept: Vec<u8> = exporter.pending.iter().map(|c| c.bytes[0]).collect();
        assert_eq!(kept, [2, 3, 4], "the oldest went first");
    }

    #[test]
    fn headers_follow_the_exporter_spec() {
        let mut headers = reqwest::header::HeaderMap::new();
        parse_headers("api-key=a%20b%3D, x-tenant = t1 ,", &mut headers).unwrap();
        assert_eq!(headers["api-key"], "a b=");
        assert_eq!(headers["x-tenant"], "t1");
        assert!(parse_headers("novalue", &mut headers).is_err());
        assert!(parse_headers("bad key=1", &mut headers).is_err());
    }
}
