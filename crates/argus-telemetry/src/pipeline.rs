//! Where finished spans go: the OTLP export and tenants' spans (to the span
//! store through a [`TenantSpanSink`]), fed by one span processor that
//! encodes each sampled span once, on the thread that ended it. Unsampled
//! spans (of unsampled requests) are held, not encoded, until their request
//! ends ([`Held`]); a failed or slow request's go to the span store only,
//! as the export takes sampled spans alone (as opentelemetry's batch
//! processor hands opentelemetry-otlp's exporter).
//!
//! Each thread keeps to one of a few shards. A shard holds the chunk of
//! encoded spans it is filling for each destination; a full chunk goes to
//! its destination's bounded queue (dropped and counted when that task is
//! behind). Each task collects its queue every
//! [`COLLECT_EVERY`](crate::chunks::COLLECT_EVERY), and the shards' partial
//! chunks (through [`Partials`]) on its own, slower tick. A request never waits
//! for either, and never wakes them: a wake-up per chunk (hundreds a
//! second) cost the request threads more, in context switches, than the
//! spans' encoding.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanProcessor};
use tokio::sync::oneshot;

use crate::chunks::{CHUNK_BYTES, CHUNK_SPANS, Flush, Inbox, Partials};
use crate::encode::SpanEncoder;
use crate::held::{Held, KeepRule};
use crate::otlp::{OtlpConfig, ScopeChunk};
use crate::tenant_spans::{self, ShownKeys, StoreChunk, TenantSpanSink};

/// Shards of spans being encoded; a thread keeps to one, so two threads
/// rarely share a lock.
const SHARDS: usize = 16;
/// One shard: its encoder and the chunks it is filling.
#[derive(Default)]
struct Shard {
    encoder: SpanEncoder,
    shown: ShownKeys,
    export: Option<ScopeChunk>,
    store: StoreChunk,
}

impl Shard {
    fn take_export(&mut self) -> Option<ScopeChunk> {
        self.export.take().filter(|chunk| chunk.spans > 0)
    }

    fn take_store(&mut self) -> Option<StoreChunk> {
        (!self.store.is_empty()).then(|| std::mem::take(&mut self.store))
    }
}

/// The chunks `take` finds in the shards, for a destination's task.
fn partials<T: 'static>(shards: &Arc<[Mutex<Shard>]>, take: fn(&mut Shard) -> Option<T>) -> Partials<T> {
    let shards = shards.clone();
    Arc::new(move || {
        shards.iter().filter_map(|shard| take(&mut shard.lock().unwrap_or_else(PoisonError::into_inner))).collect()
    })
}

thread_local! {
    /// The shard this thread encodes into.
    static SHARD: Cell<Option<usize>> = const { Cell::new(None) };
}
static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);

fn shard_index() -> usize {
    SHARD.with(|shard| match shard.get() {
        Some(index) => index,
        None => {
            let index = NEXT_SHARD.fetch_add(1, Ordering::Relaxed) % SHARDS;
            shard.set(Some(index));
            index
        }
    })
}

/// The span processor behind both destinations.
pub(crate) struct SpanPipeline {
    shards: Arc<[Mutex<Shard>]>,
    export: Option<Inbox<ScopeChunk>>,
    store: Option<Inbox<StoreChunk>>,
    held: Held,
}

impl std::fmt::Debug for SpanPipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpanPipeline").field("export", &self.export).field("store", &self.store).finish_non_exhaustive()
    }
}

impl SpanPipeline {
    /// Starts the destinations' tasks on the current tokio runtime; `None`
    /// when there is neither.
    pub(crate) fn start(
        export: Option<OtlpConfig>,
        tenant_spans: Option<Arc<dyn TenantSpanSink>>,
        keep: KeepRule,
        resource: &Resource,
        service: &str,
    ) -> Option<Self> {
        if export.is_none() && tenant_spans.is_none() {
            return None;
        }
        let shards: Arc<[Mutex<Shard>]> = (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect();
        let store = tenant_spans
            .map(|sink| tenant_spans::start(sink, service.to_owned(), partials(&shards, Shard::take_store)));
        let export = export.map(|config| crate::otlp::start(config, resource, partials(&shards, Shard::take_export)));
        Some(Self { shards, export, store, held: Held::new(keep) })
    }

    pub(crate) fn flushes(&self) -> Vec<Flush> {
        let export = self.export.as_ref().map(|e| e.flush.clone());
        export.into_iter().chain(self.store.as_ref().map(|s| s.flush.clone())).collect()
    }

    fn request_flushes(&self) {
        for flush in self.flushes() {
            let (done, _not_waited_for) = oneshot::channel();
            let _full_means_a_flush_is_on_its_way = flush.try_send(done);
        }
    }
}

impl SpanProcessor for SpanPipeline {
    fn on_start(&self, _span: &mut opentelemetry_sdk::trace::Span, _cx: &opentelemetry::Context) {}

    fn on_end(&self, span: SpanData) {
        if span.span_context.is_sampled() {
            self.write(&span, true);
        } else {
            for kept in self.held.end(span) {
                self.write(&kept, false);
            }
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.request_flushes();
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        self.request_flushes();
        Ok(())
    }
}

impl SpanPipeline {
    /// Encodes `span` for the span store (when it is a tenant's) and, when
    /// `exported`, for the export.
    fn write(&self, span: &SpanData, exported: bool) {
        let stored = match &self.store {
            Some(_) => tenant_spans::tenant_work(span),
            None => None,
        };
        let exported = exported && self.export.is_some();
        if !exported && stored.is_none() {
            return;
        }
        let (mut full_export, mut full_store) = (Vec::new(), None);
        {
            // A poisoned shard only means a panic mid-encoding elsewhere;
            // its chunks are whole up to the last finished span.
            let mut guard = self.shards[shard_index()].lock().unwrap_or_else(PoisonError::into_inner);
            let Shard { encoder, shown, export, store } = &mut *guard;
            let mut encoded = None;
            if exported {
                if export.as_ref().is_some_and(|chunk| chunk.scope != span.instrumentation_scope) {
                    full_export.extend(export.take());
                }
                let chunk = export.get_or_insert_with(|| ScopeChunk {
                    scope: span.instrumentation_scope.clone(),
                    bytes: Vec::with_capacity(CHUNK_BYTES + CHUNK_BYTES / 4),
                    spans: 0,
                });
                let start = chunk.bytes.len();
                encoder.encode(span, |_| true, &mut chunk.bytes);
                chunk.spans += 1;
                encoded = Some(start);
            }
            if let Some(tenant) = stored {
                // The exported encoding serves when every attribute is
                // shown to tenants; otherwise the span is encoded again
                // without the others.
                match (encoded, export.as_ref()) {
                    (Some(start), Some(chunk)) if span.attributes.iter().all(|kv| shown.allows(&kv.key)) => {
                        store.push(span, tenant, |bytes| bytes.extend_from_slice(&chunk.bytes[start..]));
                    }
                    _ => store.push(span, tenant, |bytes| encoder.encode(span, |key| shown.allows(key), bytes)),
                }
                if store.is_full() {
                    full_store = Some(std::mem::take(store));
                }
            }
            if export.as_ref().is_some_and(|chunk| chunk.spans >= CHUNK_SPANS || chunk.bytes.len() >= CHUNK_BYTES) {
                full_export.extend(export.take());
            }
        }
        if let Some(export) = &self.export {
            for chunk in full_export {
                let spans = chunk.spans;
                export.chunks.push(chunk, spans);
            }
        }
        if let (Some(store), Some(chunk)) = (&self.store, full_store) {
            let spans = chunk.len();
            store.chunks.push(chunk, spans);
        }
    }
}
