//! Routes the finished spans of tenants' work to a [`TenantSpanSink`] (the
//! span store, in `argus-spans`), batched by tenant.
//!
//! A span is a tenant's work when it carries `argus.tenant_id` (request
//! spans record it once the caller is verified; message spans take it from
//! the message) or descends from such a span in this process. Children
//! usually end before their parent, so spans without a tenant wait a while
//! for an ancestor to end and claim them; spans of no tenant (health checks,
//! the relay's idle polls) are dropped after that wait, and a span with
//! neither a tenant nor a parent in this process is dropped at once.
//!
//! The pipeline encodes the spans the store may keep into chunks; the
//! writer attributes them, batches them by tenant and hands the batches to
//! the sink, collecting the pipeline's partial chunks on every flush tick.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use argus_types::traces::NewSpanBatch;
use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use opentelemetry::Value;
use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_sdk::trace::SpanData;
use tokio::sync::{mpsc, oneshot};

use crate::chunks::{CHUNK_BYTES, CHUNK_SPANS, COLLECT_EVERY, FullChunks, Inbox, Partials, length_delimited};
use crate::request_span::TENANT_FIELD;

mod claims;

use claims::Claims;

/// foldhash, not SipHash: the writer hashes span and trace ids (random,
/// made here) and attribute keys (ours) several times per span.
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
type FastSet<K> = HashSet<K, foldhash::fast::RandomState>;

/// Full chunks waiting for the writer; beyond this they are dropped.
const QUEUE_CHUNKS: usize = 128;
/// Spans written per flush at most.
const BATCH_SIZE: usize = 1_000;
/// How long a span may wait before it is written anyway.
const FLUSH_EVERY: Duration = Duration::from_millis(500);

/// Attribute keys that may carry credentials: never stored.
const SECRET_MARKERS: &[&str] =
    &["authorization", "cookie", "password", "secret", "token", "api_key", "apikey", "credential", "signature"];

/// Where tenants' spans are kept: `argus-spans` writes them to PostgreSQL.
pub trait TenantSpanSink: Send + Sync + 'static {
    /// Writes one flush's batches; a failure is logged, and those spans
    /// are lost (telemetry never holds up the work it describes).
    fn write<'a>(&'a self, batches: &'a [NewSpanBatch]) -> BoxFuture<'a, Result<(), String>>;
}

/// Whether the store may keep a finished span, and the tenant it names:
/// `Some` when it names one, or when an ancestor in this process may
/// claim it for one.
pub(crate) fn tenant_work(span: &SpanData) -> Option<Option<&str>> {
    let tenant = tenant_of(span);
    let claimable = span.parent_span_id != SpanId::INVALID && !span.parent_span_is_remote;
    (tenant.is_some() || claimable).then_some(tenant)
}

/// Encoded spans on their way to the writer.
#[derive(Default)]
pub(crate) struct StoreChunk {
    /// The spans, each an entry of `ScopeSpans.spans`, one after another.
    bytes: Vec<u8>,
    /// The tenants the spans name, one after another.
    tenants: String,
    spans: Vec<ChunkSpan>,
}

impl StoreChunk {
    /// Adds a span, whose bytes `encode` appends.
    pub(crate) fn push(&mut self, span: &SpanData, tenant: Option<&str>, encode: impl FnOnce(&mut Vec<u8>)) {
        if self.bytes.capacity() == 0 {
            self.bytes.reserve(CHUNK_BYTES + CHUNK_BYTES / 4);
            self.spans.reserve(CHUNK_SPANS);
        }
        encode(&mut self.bytes);
        let tenant_end = tenant.map(|tenant| {
            self.tenants.push_str(tenant);
            self.tenants.len()
        });
        self.spans.push(ChunkSpan {
            meta: SpanMeta {
                trace_id: span.span_context.trace_id(),
                span_id: span.span_context.span_id(),
                parent_span_id: span.parent_span_id,
                start: span.start_time,
            },
            bytes_end: self.bytes.len(),
            tenant_end,
        });
    }

    pub(crate) fn is_full(&self) -> bool {
        self.spans.len() >= CHUNK_SPANS || self.bytes.len() >= CHUNK_BYTES
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }

    /// Each span with its tenant (if it names one) and encoded bytes.
    fn iter(&self) -> impl Iterator<Item = (&SpanMeta, Option<&str>, &[u8])> {
        let (mut bytes_at, mut tenant_at) = (0, 0);
        self.spans.iter().map(move |span| {
            let bytes = self.bytes.get(bytes_at..span.bytes_end).unwrap_or_default();
            bytes_at = span.bytes_end;
            let tenant = span.tenant_end.map(|end| {
                let tenant = self.tenants.get(tenant_at..end).unwrap_or_default();
                tenant_at = end;
                tenant
            });
            (&span.meta, tenant, bytes)
        })
    }
}

struct ChunkSpan {
    meta: SpanMeta,
    /// Where its bytes, and the tenant it names (if any), end in the chunk.
    bytes_end: usize,
    tenant_end: Option<usize>,
}

/// What the writer needs to know of a span besides its bytes.
#[derive(Debug, Clone, Copy)]
struct SpanMeta {
    trace_id: TraceId,
    span_id: SpanId,
    parent_span_id: SpanId,
    start: SystemTime,
}

/// Starts the writer on the current tokio runtime.
pub(crate) fn start(
    sink: Arc<dyn TenantSpanSink>,
    service: String,
    partials: Partials<StoreChunk>,
) -> Inbox<StoreChunk> {
    let chunks = FullChunks::new(QUEUE_CHUNKS, "span_store");
    let (flush, flushes) = mpsc::channel(4);
    let writer = Writer {
        sink,
        resource: encoded_resource(&service),
        service,
        claims: Claims::default(),
        batches: FastMap::default(),
        written: Vec::new(),
        pending: 0,
        chunks: chunks.clone(),
    };
    tokio::spawn(writer.run(flushes, partials));
    Inbox { chunks, flush }
}

/// `ResourceSpans.resource` naming the service, encoded.
fn encoded_resource(service: &str) -> Vec<u8> {
    let resource = Resource {
        attributes: vec![KeyValue {
            key: "service.name".into(),
            value: Some(AnyValue { value: Some(any_value::Value::StringValue(service.to_owned())) }),
            ..Default::default()
        }],
        ..Default::default()
    };
    let mut out = Vec::new();
    prost::encoding::message::encode(1, &resource, &mut out);
    out
}

struct Writer {
    sink: Arc<dyn TenantSpanSink>,
    service: String,
    resource: Vec<u8>,
    claims: Claims,
    /// Spans waiting for the next flush, by tenant; a tenant's batch is
    /// kept, emptied, while spans keep coming, so its buffer stays warm.
    batches: FastMap<Arc<str>, TenantBatch>,
    /// The last flush's rows, whose buffers the next flush reuses: a row is
    /// a few hundred KB, and fresh memory of that size is page faults on
    /// every flush.
    written: Vec<NewSpanBatch>,
    pending: usize,
    /// Full chunks from the request threads.
    chunks: Arc<FullChunks<StoreChunk>>,
}

impl Writer {
    async fn run(mut self, mut flushes: mpsc::Receiver<oneshot::Sender<()>>, partials: Partials<StoreChunk>) {
        let mut collect = tokio::time::interval(COLLECT_EVERY);
        collect.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut flush = tokio::time::interval(FLUSH_EVERY);
        loop {
            tokio::select! {
                _ = collect.tick() => self.collect_full().await,
                _ = flush.tick() => {
                    self.collect(&partials).await;
                    self.flush().await;
                    self.claims.expire();
                }
                request = flushes.recv() => {
                    self.collect(&partials).await;
                    self.flush().await;
                    // None: the pipeline is gone, and this was the last.
                    let Some(done) = request else { return };
                    let _ = done.send(());
                }
            }
        }
    }

    /// Takes the full chunks queued by the request threads.
    async fn collect_full(&mut self) {
        for chunk in self.chunks.take() {
            self.take(&chunk).await;
        }
    }

    /// Takes the full chunks, then the pipeline's partial ones.
    async fn collect(&mut self, partials: &Partials<StoreChunk>) {
        self.collect_full().await;
        for chunk in partials() {
            self.take(&chunk).await;
        }
    }

    async fn take(&mut self, chunk: &StoreChunk) {
        let (claims, batches, pending) = (&mut self.claims, &mut self.batches, &mut self.pending);
        for (meta, tenant, bytes) in chunk.iter() {
            claims.resolve(*meta, tenant, bytes, &mut |tenant, meta, bytes| {
                batches.entry(tenant.clone()).or_default().add(meta, bytes);
                *pending += 1;
            });
        }
        if self.pending >= BATCH_SIZE {
            self.flush().await;
        }
    }

    async fn flush(&mut self) {
        let dropped = self.chunks.dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            tracing::warn!(dropped, "span store behind: spans dropped");
        }
        if self.pending == 0 {
            return;
        }
        let spans = std::mem::take(&mut self.pending);
        // A tenant with no spans since the last flush is forgotten.
        self.batches.retain(|_, batch| batch.count > 0);
        let mut buffers: Vec<Vec<u8>> = self.written.drain(..).map(|row| row.spans).collect();
        for (tenant, batch) in &mut self.batches {
            let buffer = buffers.pop().unwrap_or_default();
            self.written.push(batch.encode(tenant, &self.service, &self.resource, buffer));
            batch.clear();
        }
        if let Err(e) = self.sink.write(&self.written).await {
            tracing::warn!(error = %e, spans, "cannot write spans to the span store");
            crate::metrics::spans_dropped("span_store", spans);
        }
    }
}

fn tenant_of(span: &SpanData) -> Option<&str> {
    span.attributes.iter().find(|kv| kv.key.as_str() == TENANT_FIELD).and_then(|kv| match &kv.value {
        Value::String(tenant) if !tenant.as_str().is_empty() => Some(tenant.as_str()),
        _ => None,
    })
}

/// One tenant's spans until the next flush, already encoded.
#[derive(Default)]
struct TenantBatch {
    /// Entries of `ScopeSpans.spans`, one after another.
    spans: Vec<u8>,
    count: usize,
    trace_ids: FastSet<TraceId>,
    first_start: Option<SystemTime>,
    last_start: Option<SystemTime>,
}

impl TenantBatch {
    fn add(&mut self, meta: &SpanMeta, bytes: &[u8]) {
        self.spans.extend_from_slice(bytes);
        self.count += 1;
        self.trace_ids.insert(meta.trace_id);
        self.first_start = Some(self.first_start.map_or(meta.start, |s| s.min(meta.start)));
        self.last_start = Some(self.last_start.map_or(meta.start, |s| s.max(meta.start)));
    }

    /// Empties the batch, keeping its memory.
    fn clear(&mut self) {
        self.spans.clear();
        self.count = 0;
        self.trace_ids.clear();
        self.first_start = None;
        self.last_start = None;
    }

    /// The batch as stored, encoded into `resource_spans` (whose contents
    /// are replaced): an OTLP `ResourceSpans` naming the service
    /// (`resource`, encoded) with one `ScopeSpans` holding the spans.
    fn encode(&self, tenant: &str, service: &str, resource: &[u8], mut resource_spans: Vec<u8>) -> NewSpanBatch {
        let now = SystemTime::now();
        resource_spans.clear();
        resource_spans.reserve(resource.len() + self.spans.len() + 16);
        resource_spans.extend_from_slice(resource);
        // ResourceSpans.scope_spans (field 2): one ScopeSpans, whose only
        // fields are the spans.
        length_delimited(2, &self.spans, &mut resource_spans);
        NewSpanBatch {
            tenant_id: tenant.to_owned(),
            service: service.to_owned(),
            trace_ids: self.trace_ids.iter().map(|id| u128::from_be_bytes(id.to_bytes())).collect(),
            first_start: DateTime::<Utc>::from(self.first_start.unwrap_or(now)),
            last_start: DateTime::<Utc>::from(self.last_start.unwrap_or(now)),
            written_at: DateTime::<Utc>::from(now),
            span_count: i32::try_from(self.count).unwrap_or(i32::MAX),
            spans: resource_spans,
        }
    }
}

/// Whether an attribute key may name a credential.
/// Attributes for operators, not tenants: the SQL text names Argus's own
/// tables and columns (and is the bulk of a stored span). The OTLP export
/// keeps them.
const INTERNAL_KEYS: &[&str] = &["db.query.text"];

/// [`shown_to_tenant`] remembered per attribute key: the keys are few (they
/// come from Argus's code), and matching every secret marker against every
/// attribute of every span was a sizeable part of the writer's work.
#[derive(Default)]
pub(crate) struct ShownKeys {
    known: FastMap<opentelemetry::Key, bool>,
}

impl ShownKeys {
    /// Keys remembered at most; beyond, keys are checked afresh each time.
    const MAX: usize = 4096;

    pub(crate) fn allows(&mut self, key: &opentelemetry::Key) -> bool {
        if let Some(shown) = self.known.get(key) {
            return *shown;
        }
        let shown = shown_to_tenant(key.as_str());
        if self.known.len() < Self::MAX {
            self.known.insert(key.clone(), shown);
        }
        shown
    }
}

/// Whether an attribute is stored and shown in the trace lookup: neither
/// a possible credential nor an internal detail.
pub fn shown_to_tenant(key: &str) -> bool {
    !INTERNAL_KEYS.contains(&key) && !is_secret_key(key)
}

fn is_secret_key(key: &str) -> bool {
    let key = key.as_bytes();
    SECRET_MARKERS
        .iter()
        .any(|marker| key.windows(marker.len()).any(|window| window.eq_ignore_ascii_case(marker.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::KeyValue;
    use opentelemetry::trace::{SpanKind, Status};
    use opentelemetry_proto::tonic::trace::v1::ResourceSpans;
    use prost::Message as _;

    fn span(trace: u128, id: u64, parent: u64, tenant: Option<&str>) -> SpanData {
        let mut span = crate::test_span(trace, id, parent);
        span.attributes = tenant.map(|t| vec![KeyValue::new(TENANT_FIELD, t.to_owned())]).unwrap_or_default();
        span
    }

    /// What the processor puts in a chunk for `span`.
    fn encoded(span: &SpanData) -> (SpanMeta, Vec<u8>) {
        let (mut encoder, mut shown, mut bytes) =
            (crate::encode::SpanEncoder::default(), ShownKeys::default(), Vec::new());
        encoder.encode(span, |key| shown.allows(key), &mut bytes);
        let meta = SpanMeta {
            trace_id: span.span_context.trace_id(),
            span_id: span.span_context.span_id(),
            parent_span_id: span.parent_span_id,
            start: span.start_time,
        };
        (meta, bytes)
    }

    #[test]
    fn batches_are_otlp_resource_spans_without_credentials() {
        let mut root = span(0x4bf9, 1, 0, Some("ten_a"));
        root.span_kind = SpanKind::Server;
        root.status = Status::error("boom");
        root.attributes.push(KeyValue::new("http.request.header.authorization", "Bearer x"));
        root.attributes.push(KeyValue::new("Client_Secret", "x"));
        root.attributes.push(KeyValue::new("http.response.status_code", 200_i64));
        root.attributes.push(KeyValue::new("note", "quote \" kept"));
        root.attributes.push(KeyValue::new("db.query.text", "SELECT \"apps\".\"id\" FROM \"apps\""));
        let mut child = span(0x4bf9, 2, 1, None);
        child.start_time = root.start_time + Duration::from_millis(1);
        child.end_time = child.start_time + Duration::from_millis(3);
        let mut batch = TenantBatch::default();
        for span in [root, child, span(0x77, 3, 0, Some("ten_a"))] {
            let (meta, bytes) = encoded(&span);
            batch.add(&meta, &bytes);
        }
        // The buffer is a previous flush's: its old bytes must not remain.
        let stored = batch.encode("ten_a", "api-service", &encoded_resource("api-service"), vec![0xff; 64]);
        assert_eq!(stored.span_count, 3);
        let mut trace_ids = stored.trace_ids.clone();
        trace_ids.sort();
        assert_eq!(trace_ids, [0x77, 0x4bf9]);

        let decoded = ResourceSpans::decode(stored.spans.as_slice()).unwrap();
        let service = &decoded.resource.as_ref().unwrap().attributes[0];
        assert_eq!(service.key, "service.name");
        assert_eq!(service.value.as_ref().unwrap().value, Some(any_value::Value::StringValue("api-service".into())));
        let spans: Vec<_> = decoded.scope_spans.iter().flat_map(|s| &s.spans).collect();
        assert_eq!(spans.len(), 3);
        let root = spans[0];
        assert_eq!(root.span_id, 1_u64.to_be_bytes());
        let keys: Vec<&str> = root.attributes.iter().map(|kv| kv.key.as_str()).collect();
        assert!(keys.contains(&"note") && keys.contains(&"http.response.status_code") && keys.contains(&TENANT_FIELD));
        assert!(!keys.contains(&"Client_Secret"));
        assert!(!keys.contains(&"http.request.header.authorization"));
        assert!(!keys.contains(&"db.query.text"), "internal detail, not stored");
        assert_eq!(spans[1].parent_span_id, 1_u64.to_be_bytes());

        // Emptied for the next flush, the batch holds only what comes next.
        batch.clear();
        let (meta, bytes) = encoded(&span(0x99, 4, 0, Some("ten_a")));
        batch.add(&meta, &bytes);
        let next = batch.encode("ten_a", "api-service", &encoded_resource("api-service"), stored.spans);
        assert_eq!((next.span_count, next.trace_ids.as_slice()), (1, [0x99_u128].as_slice()));
        let decoded = ResourceSpans::decode(next.spans.as_slice()).unwrap();
        let traces: Vec<&[u8]> =
            decoded.scope_spans.iter().flat_map(|s| &s.spans).map(|s| s.trace_id.as_slice()).collect();
        assert_eq!(traces, [0x99_u128.to_be_bytes().as_slice()]);
    }
}
