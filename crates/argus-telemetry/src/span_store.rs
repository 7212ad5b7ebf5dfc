//! Writes the finished spans of tenants' work to the span store, batched.
//!
//! A span is a tenant's work when it carries `argus.tenant_id` (request
//! spans record it once the caller is verified; message spans take it from
//! the message) or descends from such a span in this process. Children
//! usually end before their parent, so spans without a tenant wait a while
//! for an ancestor to end and claim them; spans of no tenant (health checks,
//! the relay's idle polls) are dropped after that wait.
//!
//! [`SpanStoreProcessor::on_end`] never blocks a request: it hands the span
//! to a bounded channel and drops it (counted) when the writer is behind.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use argus_store::traces::StoredSpan;
use argus_store::{Store, StoreConfig};
use chrono::{DateTime, Utc};
use opentelemetry::trace::{SpanId, SpanKind, Status, TraceId};
use opentelemetry::{Context, Value};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};
use tokio::sync::mpsc;

use crate::request_span::TENANT_FIELD;

/// Spans waiting in the channel; beyond this they are dropped.
const QUEUE_CAPACITY: usize = 16_384;
/// Rows per INSERT.
const BATCH_SIZE: usize = 1_000;
/// How long a batch may wait before it is written anyway.
const FLUSH_EVERY: Duration = Duration::from_millis(500);
/// How long a span without a tenant waits for an ancestor to claim it.
const CLAIM_WAIT: Duration = Duration::from_secs(30);
/// Spans waiting for a claim, at most; the oldest go first beyond it.
const MAX_UNCLAIMED: usize = 50_000;
/// How long a claimed span id is remembered, for children that end later.
const REMEMBER_CLAIMED: Duration = Duration::from_secs(300);
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
    dropped: Arc<AtomicU64>,
}

impl SpanProcessor for SpanStoreProcessor {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        if self.queue.try_send(span).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
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
        batch: Vec::with_capacity(BATCH_SIZE),
        dropped: dropped.clone(),
    };
    tokio::spawn(writer.run(spans));
    Ok(SpanStoreProcessor { queue, dropped })
}

struct Writer {
    store: Store,
    service: String,
    retention: Duration,
    claims: Claims,
    batch: Vec<StoredSpan>,
    dropped: Arc<AtomicU64>,
}

impl Writer {
    async fn run(mut self, mut spans: mpsc::Receiver<SpanData>) {
        let mut flush = tokio::time::interval(FLUSH_EVERY);
        let mut purge = tokio::time::interval(PURGE_EVERY);
        loop {
            tokio::select! {
                span = spans.recv() => match span {
                    Some(span) => {
                        for (tenant, span) in self.claims.resolve(span) {
                            self.batch.push(to_row(&tenant, &self.service, &span));
                        }
                        if self.batch.len() >= BATCH_SIZE {
                            self.flush().await;
                        }
                    }
                    None => {
                        self.flush().await;
                        return;
                    }
                },
                _ = flush.tick() => {
                    self.flush().await;
                    self.claims.expire();
                }
                _ = purge.tick() => self.purge().await,
            }
        }
    }

    async fn flush(&mut self) {
        let dropped = self.dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            tracing::warn!(dropped, "span store behind: spans dropped");
        }
        if self.batch.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.batch);
        if let Err(e) = self.store.insert_spans(&batch).await {
            tracing::warn!(error = %e, spans = batch.len(), "cannot write spans to the span store");
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
#[derive(Default)]
struct Claims {
    /// Spans of a tenant, by span id, for descendants that end later.
    claimed: HashMap<SpanId, (String, Instant)>,
    /// Spans ended without a tenant, by trace, waiting for an ancestor.
    unclaimed: HashMap<TraceId, Vec<(SpanData, Instant)>>,
    unclaimed_count: usize,
}

impl Claims {
    /// The spans that can now be attributed: `span` itself, when it or a
    /// remembered ancestor names a tenant, and its waiting descendants.
    fn resolve(&mut self, span: SpanData) -> Vec<(String, SpanData)> {
        let tenant = tenant_of(&span).or_else(|| self.claimed.get(&span.parent_span_id).map(|(t, _)| t.clone()));
        let Some(tenant) = tenant else {
            self.wait(span);
            return Vec::new();
        };
        let trace_id = span.span_context.trace_id();
        let mut owners = HashSet::from([span.span_context.span_id()]);
        self.claimed.insert(span.span_context.span_id(), (tenant.clone(), Instant::now()));
        let mut resolved = vec![(tenant.clone(), span)];
        if let Some(mut waiting) = self.unclaimed.remove(&trace_id) {
            // Claim descendants level by level: a child of a claimed span is
            // claimed, which may claim its own children in the next round.
            loop {
                let before = waiting.len();
                let (mine, rest): (Vec<_>, Vec<_>) =
                    waiting.into_iter().partition(|(s, _)| owners.contains(&s.parent_span_id));
                waiting = rest;
                for (child, _) in mine {
                    owners.insert(child.span_context.span_id());
                    self.claimed.insert(child.span_context.span_id(), (tenant.clone(), Instant::now()));
                    resolved.push((tenant.clone(), child));
                }
                if waiting.len() == before {
                    break;
                }
            }
            self.unclaimed_count -= resolved.len() - 1;
            if !waiting.is_empty() {
                self.unclaimed.insert(trace_id, waiting);
            }
        }
        resolved
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
        self.claimed.retain(|_, (_, at)| at.elapsed() < REMEMBER_CLAIMED);
    }

    fn expire_older_than(&mut self, age: Duration) {
        let mut count = 0;
        self.unclaimed.retain(|_, spans| {
            spans.retain(|(_, at)| at.elapsed() < age);
            count += spans.len();
            !spans.is_empty()
        });
        self.unclaimed_count = count;
    }
}

fn tenant_of(span: &SpanData) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == TENANT_FIELD)
        .map(|kv| kv.value.as_str().into_owned())
        .filter(|t| !t.is_empty())
}

fn to_row(tenant: &str, service: &str, span: &SpanData) -> StoredSpan {
    let duration = span.end_time.duration_since(span.start_time).unwrap_or_default();
    let parent = (span.parent_span_id != SpanId::INVALID).then(|| span.parent_span_id.to_string());
    StoredSpan {
        tenant_id: tenant.to_owned(),
        trace_id: span.span_context.trace_id().to_string(),
        span_id: span.span_context.span_id().to_string(),
        parent_span_id: parent,
        service: service.to_owned(),
        name: span.name.to_string(),
        kind: kind_name(&span.span_kind).to_owned(),
        start_time: DateTime::<Utc>::from(span.start_time),
        duration_ms: duration.as_secs_f64() * 1000.0,
        status: match span.status {
            Status::Unset => "unset",
            Status::Ok => "ok",
            Status::Error { .. } => "error",
        }
        .to_owned(),
        attributes: attributes_json(span),
    }
}

fn kind_name(kind: &SpanKind) -> &'static str {
    match kind {
        SpanKind::Server => "server",
        SpanKind::Client => "client",
        SpanKind::Producer => "producer",
        SpanKind::Consumer => "consumer",
        SpanKind::Internal => "internal",
    }
}

/// The span's attributes as a JSON object, minus anything that may hold a
/// credential.
pub(crate) fn attributes_json(span: &SpanData) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    for kv in &span.attributes {
        let key = kv.key.as_str();
        if is_secret_key(key) {
            continue;
        }
        let value = match &kv.value {
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::I64(n) => serde_json::Value::from(*n),
            Value::F64(f) => serde_json::Number::from_f64(*f).map(serde_json::Value::Number).unwrap_or_default(),
            other => serde_json::Value::String(other.as_str().into_owned()),
        };
        map.insert(key.to_owned(), value);
    }
    serde_json::Value::Object(map)
}

/// Whether an attribute key may name a credential.
pub fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    SECRET_MARKERS.iter().any(|m| key.contains(m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::KeyValue;
    use opentelemetry::trace::{SpanContext, TraceFlags, TraceState};
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

    fn ids(resolved: &[(String, SpanData)]) -> Vec<(String, u64)> {
        let mut ids: Vec<_> = resolved
            .iter()
            .map(|(t, s)| (t.clone(), u64::from_be_bytes(s.span_context.span_id().to_bytes())))
            .collect();
        ids.sort();
        ids
    }

    #[test]
    fn descendants_that_end_first_are_claimed_by_their_tenant_ancestor() {
        let mut claims = Claims::default();
        // grandchild 3 and child 2 end before request span 1, which names the tenant.
        assert!(claims.resolve(span(7, 3, 2, None)).is_empty());
        assert!(claims.resolve(span(7, 2, 1, None)).is_empty());
        // A span of the same trace under another parent is not claimed.
        assert!(claims.resolve(span(7, 9, 8, None)).is_empty());
        let resolved = claims.resolve(span(7, 1, 0, Some("ten_a")));
        assert_eq!(ids(&resolved), vec![("ten_a".into(), 1), ("ten_a".into(), 2), ("ten_a".into(), 3)]);
        // A child ending after its claimed parent is claimed at once.
        assert_eq!(ids(&claims.resolve(span(7, 4, 1, None))), vec![("ten_a".into(), 4)]);
        assert_eq!(claims.unclaimed_count, 1);
        claims.expire_older_than(Duration::ZERO);
        assert_eq!(claims.unclaimed_count, 0);
    }

    #[test]
    fn a_span_naming_another_tenant_keeps_its_own() {
        let mut claims = Claims::default();
        assert!(claims.resolve(span(7, 2, 1, None)).is_empty());
        let own = claims.resolve(span(7, 5, 1, Some("ten_b")));
        assert_eq!(ids(&own), vec![("ten_b".into(), 5)]);
        let parent = claims.resolve(span(7, 1, 0, Some("ten_a")));
        assert_eq!(ids(&parent), vec![("ten_a".into(), 1), ("ten_a".into(), 2)]);
    }

    #[test]
    fn credentials_never_reach_the_store() {
        let mut s = span(1, 1, 0, Some("ten_a"));
        s.attributes.push(KeyValue::new("http.request.header.authorization", "Bearer x"));
        s.attributes.push(KeyValue::new("client_secret", "x"));
        s.attributes.push(KeyValue::new("http.response.status_code", 200_i64));
        let json = attributes_json(&s);
        assert_eq!(json["http.response.status_code"], 200);
        assert!(json.get("client_secret").is_none() && json.get("http.request.header.authorization").is_none());
    }
}
