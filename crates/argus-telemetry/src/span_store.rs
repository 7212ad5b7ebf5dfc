//! Writes the finished spans of tenants' work to the span store, batched.
//!
//! A span is a tenant's work when it carries `argus.tenant_id` (request
//! spans record it once the caller is verified; message spans take it from
//! the message) or descends from such a span in this process. Children
//! usually end before their parent, so spans without a tenant wait a while
//! for an ancestor to end and claim them; spans of no tenant (health checks,
//! the relay's idle polls) are dropped after that wait, and a span with
//! neither a tenant nor a parent in this process is dropped at once.
//!
//! [`SpanStoreProcessor::on_end`] never blocks a request: it hands the span
//! to a bounded channel and drops it (counted) when the writer is behind.

use std::collections::{HashMap, HashSet};

/// foldhash, not SipHash: the writer hashes span and trace ids (random,
/// made here) and attribute keys (ours) several times per span, on the
/// request-serving cores.
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
type FastSet<K> = HashSet<K, foldhash::fast::RandomState>;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use argus_store::traces::NewSpanBatch;
use argus_store::{Store, StoreConfig};
use chrono::{DateTime, Utc};
use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry::{Context, Value};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span as ProtoSpan, span, status};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};
use prost::Message as _;
use tokio::sync::Notify;
use tokio::sync::mpsc::{self, error::TryRecvError};

use crate::request_span::TENANT_FIELD;

/// Spans waiting in the channel; beyond this they are dropped.
const QUEUE_CAPACITY: usize = 16_384;
/// Queued spans that wake the writer. Waking it per span would cost a
/// thread wake-up (a system call and a context switch) per span; between
/// wake-ups the flush tick collects what is queued.
const WAKE_EVERY: usize = 512;
/// Spans written per flush at most.
const BATCH_SIZE: usize = 1_000;
/// Spans one lookup returns at most.
const TRACE_SPANS_MAX: usize = 10_000;
/// How long a batch may wait before it is written anyway.
const FLUSH_EVERY: Duration = Duration::from_millis(500);
/// How long a span without a tenant waits for an ancestor to claim it.
const CLAIM_WAIT: Duration = Duration::from_secs(30);
/// Spans waiting for a claim, at most; the oldest go first beyond it.
const MAX_UNCLAIMED: usize = 50_000;
/// How long a claimed span id is remembered at least (at most twice that),
/// for children that end after their parent.
const REMEMBER_CLAIMED: Duration = Duration::from_secs(15);
const PURGE_EVERY: Duration = Duration::from_secs(600);
/// Rows one purge statement deletes at most.
const PURGE_BATCH: i64 = 10_000;
const PURGE_BATCH_ROWS: usize = PURGE_BATCH as usize;

/// Attribute keys that may carry credentials: never stored.
const SECRET_MARKERS: &[&str] =
    &["authorization", "cookie", "password", "secret", "token", "api_key", "apikey", "credential", "signature"];

/// Where and how long spans are kept.
#[derive(Debug, Clone)]
pub struct SpanStoreConfig {
    pub database_url: String,
    /// `ARGUS_TRACE_RETENTION_DAYS` (default 7).
    pub retention: Duration,
}

/// The OpenTelemetry processor feeding the writer.
#[derive(Debug)]
pub(crate) struct SpanStoreProcessor {
    queue: mpsc::Sender<SpanData>,
    /// Spans queued since the writer last drained the queue.
    queued: Arc<AtomicUsize>,
    wake: Arc<Notify>,
    dropped: Arc<AtomicU64>,
}

impl SpanStoreProcessor {
    /// Whether a finished span may be a tenant's work: it names a tenant,
    /// or an ancestor in this process may claim it for one.
    pub(crate) fn keeps(span: &SpanData) -> bool {
        let claimable = span.parent_span_id != SpanId::INVALID && !span.parent_span_is_remote;
        claimable || tenant_of(span).is_some()
    }
}

impl SpanProcessor for SpanStoreProcessor {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        if !Self::keeps(&span) {
            return;
        }
        match self.queue.try_send(span) {
            Ok(()) => {
                if self.queued.fetch_add(1, Ordering::Relaxed) + 1 == WAKE_EVERY {
                    self.wake.notify_one();
                }
            }
            Err(_) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        self.wake.notify_one();
        Ok(())
    }
}

/// Starts the writer on the current tokio runtime; returns the processor to
/// install in the tracer provider.
pub(crate) fn start(config: &SpanStoreConfig, service: String) -> Result<SpanStoreProcessor, argus_store::StoreError> {
    let store = Store::connect(&StoreConfig { database_url: config.database_url.clone(), max_connections: 2 })?;
    let (queue, spans) = mpsc::channel(QUEUE_CAPACITY);
    let dropped = Arc::new(AtomicU64::new(0));
    let writer = Writer {
        store,
        service,
        retention: config.retention,
        claims: Claims::default(),
        batches: FastMap::default(),
        shown: ShownKeys::default(),
        pending: 0,
        dropped: dropped.clone(),
    };
    let (queued, wake) = (Arc::new(AtomicUsize::new(0)), Arc::new(Notify::new()));
    tokio::spawn(writer.run(spans, queued.clone(), wake.clone()));
    Ok(SpanStoreProcessor { queue, queued, wake, dropped })
}

struct Writer {
    store: Store,
    service: String,
    retention: Duration,
    claims: Claims,
    /// Spans waiting for the next flush, by tenant.
    batches: FastMap<Arc<str>, TenantBatch>,
    shown: ShownKeys,
    pending: usize,
    dropped: Arc<AtomicU64>,
}

impl Writer {
    async fn run(mut self, mut spans: mpsc::Receiver<SpanData>, queued: Arc<AtomicUsize>, wake: Arc<Notify>) {
        let mut flush = tokio::time::interval(FLUSH_EVERY);
        let mut purge = tokio::time::interval(PURGE_EVERY);
        let mut resolved = Vec::new();
        loop {
            let tick = tokio::select! {
                () = wake.notified() => false,
                _ = flush.tick() => true,
                _ = purge.tick() => {
                    self.purge().await;
                    continue;
                }
            };
            queued.store(0, Ordering::Relaxed);
            let open = loop {
                match spans.try_recv() {
                    Ok(span) => {
                        self.claims.resolve(span, &mut resolved);
                        for (tenant, span) in resolved.drain(..) {
                            self.batches.entry(tenant).or_default().add(span, &mut self.shown);
                            self.pending += 1;
                        }
                        if self.pending >= BATCH_SIZE {
                            self.flush().await;
                        }
                    }
                    Err(TryRecvError::Empty) => break true,
                    Err(TryRecvError::Disconnected) => break false,
                }
            };
            if tick || !open {
                self.flush().await;
                self.claims.expire();
            }
            if !open {
                return;
            }
        }
    }

    async fn flush(&mut self) {
        let dropped = self.dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            tracing::warn!(dropped, "span store behind: spans dropped");
        }
        if self.pending == 0 {
            return;
        }
        let spans = std::mem::take(&mut self.pending);
        let batches = self.batches.drain().map(|(tenant, batch)| batch.encode(&tenant, &self.service)).collect();
        if let Err(e) = self.store.insert_span_batches(batches).await {
            tracing::warn!(error = %e, spans, "cannot write spans to the span store");
        }
    }

    async fn purge(&self) {
        let Ok(retention) = chrono::Duration::from_std(self.retention) else { return };
        let cutoff = Utc::now() - retention;
        loop {
            match self.store.purge_spans_before(cutoff, PURGE_BATCH).await {
                Ok(PURGE_BATCH_ROWS) => continue,
                Ok(_) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot purge expired spans");
                    return;
                }
            }
        }
    }
}

/// Which tenant each span belongs to.
struct Claims {
    /// Tenants of recently claimed spans, by span id, for descendants that
    /// end later; in two generations, the older dropped whole every
    /// [`REMEMBER_CLAIMED`], so nothing is scanned entry by entry.
    claimed: FastMap<SpanId, Arc<str>>,
    claimed_before: FastMap<SpanId, Arc<str>>,
    claimed_since: Instant,
    /// Spans ended without a tenant, by trace, waiting for an ancestor.
    unclaimed: FastMap<TraceId, Vec<(SpanData, Instant)>>,
    unclaimed_count: usize,
}

impl Default for Claims {
    fn default() -> Self {
        Self {
            claimed: FastMap::default(),
            claimed_before: FastMap::default(),
            claimed_since: Instant::now(),
            unclaimed: FastMap::default(),
            unclaimed_count: 0,
        }
    }
}

impl Claims {
    /// Adds to `resolved` the spans that can now be attributed: `span`
    /// itself, when it or a remembered ancestor names a tenant, and its
    /// waiting descendants.
    fn resolve(&mut self, span: SpanData, resolved: &mut Vec<(Arc<str>, SpanData)>) {
        let tenant = match tenant_of(&span) {
            Some(tenant) => Arc::from(tenant),
            None => match self.tenant_of_parent(&span.parent_span_id) {
                Some(tenant) => tenant,
                None => return self.wait(span),
            },
        };
        let trace_id = span.span_context.trace_id();
        let first = resolved.len();
        self.claimed.insert(span.span_context.span_id(), tenant.clone());
        resolved.push((tenant.clone(), span));
        let Some(mut waiting) = self.unclaimed.remove(&trace_id) else { return };
        // Breadth first: each newly claimed span claims its waiting children,
        // which are appended and claim theirs in turn.
        let mut next = first;
        while next < resolved.len() && !waiting.is_empty() {
            let owner = resolved[next].1.span_context.span_id();
            let mut i = 0;
            while i < waiting.len() {
                if waiting[i].0.parent_span_id == owner {
                    let (child, _) = waiting.swap_remove(i);
                    self.claimed.insert(child.span_context.span_id(), tenant.clone());
                    resolved.push((tenant.clone(), child));
                } else {
                    i += 1;
                }
            }
            next += 1;
        }
        self.unclaimed_count -= resolved.len() - first - 1;
        if !waiting.is_empty() {
            self.unclaimed.insert(trace_id, waiting);
        }
    }

    fn tenant_of_parent(&self, parent: &SpanId) -> Option<Arc<str>> {
        self.claimed.get(parent).or_else(|| self.claimed_before.get(parent)).cloned()
    }

    fn wait(&mut self, span: SpanData) {
        if self.unclaimed_count >= MAX_UNCLAIMED {
            self.expire_older_than(Duration::ZERO);
        }
        self.unclaimed_count += 1;
        self.unclaimed.entry(span.span_context.trace_id()).or_default().push((span, Instant::now()));
    }

    fn expire(&mut self) {
        self.expire_older_than(CLAIM_WAIT);
        if self.claimed_since.elapsed() >= REMEMBER_CLAIMED {
            self.claimed_before = std::mem::take(&mut self.claimed);
            self.claimed_since = Instant::now();
        }
    }

    fn expire_older_than(&mut self, age: Duration) {
        let now = Instant::now();
        let mut count = 0;
        self.unclaimed.retain(|_, spans| {
            spans.retain(|(_, at)| now.duration_since(*at) < age);
            count += spans.len();
            !spans.is_empty()
        });
        self.unclaimed_count = count;
    }
}

fn tenant_of(span: &SpanData) -> Option<&str> {
    span.attributes.iter().find(|kv| kv.key.as_str() == TENANT_FIELD).and_then(|kv| match &kv.value {
        Value::String(tenant) if !tenant.as_str().is_empty() => Some(tenant.as_str()),
        _ => None,
    })
}

/// One tenant's spans until the next flush, already in OTLP form.
#[derive(Default)]
struct TenantBatch {
    spans: Vec<ProtoSpan>,
    trace_ids: FastSet<TraceId>,
    first_start: Option<SystemTime>,
    last_start: Option<SystemTime>,
}

impl TenantBatch {
    fn add(&mut self, mut span: SpanData, shown: &mut ShownKeys) {
        span.attributes.retain(|kv| shown.allows(&kv.key));
        self.trace_ids.insert(span.span_context.trace_id());
        let start = span.start_time;
        self.first_start = Some(self.first_start.map_or(start, |s| s.min(start)));
        self.last_start = Some(self.last_start.map_or(start, |s| s.max(start)));
        self.spans.push(ProtoSpan::from(span));
    }

    /// The batch as stored: an OTLP `ResourceSpans` naming the service.
    fn encode(self, tenant: &str, service: &str) -> NewSpanBatch {
        let now = SystemTime::now();
        let span_count = i32::try_from(self.spans.len()).unwrap_or(i32::MAX);
        let resource_spans = ResourceSpans {
            resource: Some(Resource {
                attributes: vec![KeyValue {
                    key: "service.name".into(),
                    value: Some(AnyValue { value: Some(any_value::Value::StringValue(service.to_owned())) }),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans { spans: self.spans, ..Default::default() }],
            ..Default::default()
        };
        NewSpanBatch {
            tenant_id: tenant.to_owned(),
            service: service.to_owned(),
            trace_ids: self.trace_ids.iter().map(|id| u128::from_be_bytes(id.to_bytes())).collect(),
            first_start: DateTime::<Utc>::from(self.first_start.unwrap_or(now)),
            last_start: DateTime::<Utc>::from(self.last_start.unwrap_or(now)),
            span_count,
            spans: resource_spans.encode_to_vec(),
        }
    }
}

/// One span of a trace, read back from the store.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedSpan {
    pub span_id: String,
    /// Absent on a root span.
    pub parent_span_id: Option<String>,
    pub service: String,
    pub name: String,
    /// `server`, `client`, `producer`, `consumer` or `internal`.
    pub kind: &'static str,
    pub start: DateTime<Utc>,
    pub duration_ms: f64,
    /// `unset`, `ok` or `error`.
    pub status: &'static str,
    /// A JSON object, without any attribute that may hold a credential.
    pub attributes: serde_json::Value,
}

/// The spans of `trace_id` (32 lowercase hex digits) in `batches` as
/// [`argus_store::Store::trace_span_batches`] returns them, started after
/// `since`, oldest first. A batch that does not decode is skipped.
pub fn spans_of_trace(batches: &[Vec<u8>], trace_id: &str, since: DateTime<Utc>) -> Vec<RecordedSpan> {
    let Ok(wanted) = TraceId::from_hex(trace_id) else { return Vec::new() };
    let wanted = wanted.to_bytes();
    let mut found = Vec::new();
    for encoded in batches {
        let batch = match ResourceSpans::decode(encoded.as_slice()) {
            Ok(batch) => batch,
            Err(e) => {
                tracing::warn!(error = %e, "a stored span batch does not decode");
                continue;
            }
        };
        let service = batch
            .resource
            .iter()
            .flat_map(|r| &r.attributes)
            .find(|kv| kv.key == "service.name")
            .and_then(|kv| kv.value.as_ref())
            .and_then(|v| match &v.value {
                Some(any_value::Value::StringValue(s)) => Some(s.clone()),
                _ => None,
            })
            .unwrap_or_default();
        for span in batch.scope_spans.into_iter().flat_map(|s| s.spans) {
            if span.trace_id.as_slice() != wanted.as_slice() {
                continue;
            }
            let recorded = recorded(span, &service);
            if recorded.start > since {
                found.push(recorded);
            }
        }
    }
    found.sort_by(|a, b| a.start.cmp(&b.start).then_with(|| a.span_id.cmp(&b.span_id)));
    found.truncate(TRACE_SPANS_MAX);
    found
}

fn recorded(span: ProtoSpan, service: &str) -> RecordedSpan {
    let at = |nanos: u64| DateTime::<Utc>::from(SystemTime::UNIX_EPOCH + Duration::from_nanos(nanos));
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let attributes = span
        .attributes
        .iter()
        .filter(|kv| shown_to_tenant(&kv.key))
        .map(|kv| (kv.key.clone(), kv.value.as_ref().map(json_of).unwrap_or_default()))
        .collect();
    RecordedSpan {
        span_id: hex(&span.span_id),
        parent_span_id: (!span.parent_span_id.is_empty()).then(|| hex(&span.parent_span_id)),
        service: service.to_owned(),
        kind: match span::SpanKind::try_from(span.kind) {
            Ok(span::SpanKind::Server) => "server",
            Ok(span::SpanKind::Client) => "client",
            Ok(span::SpanKind::Producer) => "producer",
            Ok(span::SpanKind::Consumer) => "consumer",
            _ => "internal",
        },
        start: at(span.start_time_unix_nano),
        // Nanoseconds to milliseconds; a span is far shorter than 2^53 ns.
        duration_ms: span.end_time_unix_nano.saturating_sub(span.start_time_unix_nano) as f64 / 1e6,
        status: match span.status.map(|s| status::StatusCode::try_from(s.code)) {
            Some(Ok(status::StatusCode::Ok)) => "ok",
            Some(Ok(status::StatusCode::Error)) => "error",
            _ => "unset",
        },
        name: span.name,
        attributes: serde_json::Value::Object(attributes),
    }
}

fn json_of(value: &AnyValue) -> serde_json::Value {
    use any_value::Value as V;
    match &value.value {
        Some(V::StringValue(s)) => serde_json::Value::String(s.clone()),
        Some(V::BoolValue(b)) => serde_json::Value::Bool(*b),
        Some(V::IntValue(n)) => serde_json::Value::from(*n),
        Some(V::DoubleValue(f)) => serde_json::Number::from_f64(*f).map(serde_json::Value::Number).unwrap_or_default(),
        Some(V::ArrayValue(a)) => serde_json::Value::Array(a.values.iter().map(json_of).collect()),
        _ => serde_json::Value::Null,
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
struct ShownKeys {
    known: FastMap<opentelemetry::Key, bool>,
}

impl ShownKeys {
    /// Keys remembered at most; beyond, keys are checked afresh each time.
    const MAX: usize = 4096;

    fn allows(&mut self, key: &opentelemetry::Key) -> bool {
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
fn shown_to_tenant(key: &str) -> bool {
    !INTERNAL_KEYS.contains(&key) && !is_secret_key(key)
}

pub fn is_secret_key(key: &str) -> bool {
    let key = key.as_bytes();
    SECRET_MARKERS
        .iter()
        .any(|marker| key.windows(marker.len()).any(|window| window.eq_ignore_ascii_case(marker.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::KeyValue;
    use opentelemetry::trace::{SpanContext, SpanKind, Status, TraceFlags, TraceState};
    use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};
    use std::time::SystemTime;

    fn span(trace: u128, id: u64, parent: u64, tenant: Option<&str>) -> SpanData {
        SpanData {
            span_context: SpanContext::new(
                TraceId::from(trace),
                SpanId::from(id),
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            ),
            parent_span_id: SpanId::from(parent),
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: "s".into(),
            start_time: SystemTime::now(),
            end_time: SystemTime::now(),
            attributes: tenant.map(|t| vec![KeyValue::new(TENANT_FIELD, t.to_owned())]).unwrap_or_default(),
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::Unset,
            instrumentation_scope: Default::default(),
        }
    }

    fn ids(resolved: &[(Arc<str>, SpanData)]) -> Vec<(String, u64)> {
        let mut ids: Vec<_> = resolved
            .iter()
            .map(|(t, s)| (t.to_string(), u64::from_be_bytes(s.span_context.span_id().to_bytes())))
            .collect();
        ids.sort();
        ids
    }

    fn resolve(claims: &mut Claims, span: SpanData) -> Vec<(Arc<str>, SpanData)> {
        let mut resolved = Vec::new();
        claims.resolve(span, &mut resolved);
        resolved
    }

    #[test]
    fn descendants_that_end_first_are_claimed_by_their_tenant_ancestor() {
        let mut claims = Claims::default();
        // grandchild 3 and child 2 end before request span 1, which names the tenant.
        assert!(resolve(&mut claims, span(7, 3, 2, None)).is_empty());
        assert!(resolve(&mut claims, span(7, 2, 1, None)).is_empty());
        // A span of the same trace under another parent is not claimed.
        assert!(resolve(&mut claims, span(7, 9, 8, None)).is_empty());
        let resolved = resolve(&mut claims, span(7, 1, 0, Some("ten_a")));
        assert_eq!(ids(&resolved), vec![("ten_a".into(), 1), ("ten_a".into(), 2), ("ten_a".into(), 3)]);
        // A child ending after its claimed parent is claimed at once.
        assert_eq!(ids(&resolve(&mut claims, span(7, 4, 1, None))), vec![("ten_a".into(), 4)]);
        assert_eq!(claims.unclaimed_count, 1);
        claims.expire_older_than(Duration::ZERO);
        assert_eq!(claims.unclaimed_count, 0);
    }

    #[test]
    fn a_span_naming_another_tenant_keeps_its_own() {
        let mut claims = Claims::default();
        assert!(resolve(&mut claims, span(7, 2, 1, None)).is_empty());
        let own = resolve(&mut claims, span(7, 5, 1, Some("ten_b")));
        assert_eq!(ids(&own), vec![("ten_b".into(), 5)]);
        let parent = resolve(&mut claims, span(7, 1, 0, Some("ten_a")));
        assert_eq!(ids(&parent), vec![("ten_a".into(), 1), ("ten_a".into(), 2)]);
    }

    #[test]
    fn batches_round_trip_without_credentials() {
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
        let (mut batch, mut shown) = (TenantBatch::default(), ShownKeys::default());
        batch.add(root, &mut shown);
        batch.add(child, &mut shown);
        batch.add(span(0x77, 3, 0, Some("ten_a")), &mut shown);
        let stored = batch.encode("ten_a", "api-service");
        assert_eq!(stored.span_count, 3);
        let mut trace_ids = stored.trace_ids.clone();
        trace_ids.sort();
        assert_eq!(trace_ids, [0x77, 0x4bf9]);

        let long_ago = Utc::now() - chrono::Duration::days(1);
        let spans = spans_of_trace(std::slice::from_ref(&stored.spans), &format!("{:032x}", 0x4bf9), long_ago);
        assert_eq!(spans.len(), 2, "only the trace asked for");
        let (root, child) = (&spans[0], &spans[1]);
        assert_eq!((root.span_id.as_str(), root.parent_span_id.as_deref()), ("0000000000000001", None));
        assert_eq!((root.kind, root.status, root.service.as_str()), ("server", "error", "api-service"));
        assert_eq!(root.attributes["note"], "quote \" kept");
        assert_eq!(root.attributes["http.response.status_code"], 200);
        assert_eq!(root.attributes["argus.tenant_id"], "ten_a");
        assert!(root.attributes.get("Client_Secret").is_none());
        assert!(root.attributes.get("http.request.header.authorization").is_none());
        assert!(root.attributes.get("db.query.text").is_none(), "internal detail, not stored");
        assert_eq!(child.parent_span_id.as_deref(), Some("0000000000000001"));
        assert!((child.duration_ms - 3.0).abs() < 0.01, "{}", child.duration_ms);
        // Spans started before `since` are left out; garbage is skipped.
        assert!(
            spans_of_trace(
                &[stored.spans, b"not protobuf".to_vec()],
                &format!("{:032x}", 0x4bf9),
                Utc::now() + chrono::Duration::hours(1)
            )
            .is_empty()
        );
    }
}
