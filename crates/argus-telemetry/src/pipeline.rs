//! Where finished spans go: the OTLP export and the span store, fed by one
//! span processor that encodes each span once, on the thread that ended it.
//!
//! Each thread keeps to one of a few shards. A shard holds the chunk of
//! encoded spans it is filling for each destination; a full chunk goes to
//! its destination's bounded queue (dropped and counted when that task is
//! behind). Each task collects its queue every [`COLLECT_EVERY`], and the
//! shards' partial chunks on its own, slower tick. A request never waits
//! for either, and never wakes them: a wake-up per chunk (hundreds a
//! second) cost the request threads more, in context switches, than the
//! spans' encoding.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanProcessor};
use tokio::sync::{mpsc, oneshot};

use crate::encode::SpanEncoder;
use crate::otlp::{OtlpConfig, ScopeChunk};
use crate::span_store::{self, ShownKeys, SpanStoreConfig, StoreChunk};

/// Shards of spans being encoded; a thread keeps to one, so two threads
/// rarely share a lock.
const SHARDS: usize = 16;
/// Spans, and encoded bytes, that fill a chunk: small enough that the
/// allocator hands the memory back warm (256 KiB chunks took fresh, zeroed
/// pages from the kernel every time).
pub(crate) const CHUNK_SPANS: usize = 128;
pub(crate) const CHUNK_BYTES: usize = 48 * 1024;
/// How often a destination's task takes the full chunks queued for it.
pub(crate) const COLLECT_EVERY: Duration = Duration::from_millis(20);

/// One shard: its encoder and the chunks it is filling.
#[derive(Default)]
pub(crate) struct Shard {
    encoder: SpanEncoder,
    shown: ShownKeys,
    export: Option<ScopeChunk>,
    store: StoreChunk,
}

impl Shard {
    pub(crate) fn take_export(&mut self) -> Option<ScopeChunk> {
        self.export.take().filter(|chunk| chunk.spans > 0)
    }

    pub(crate) fn take_store(&mut self) -> Option<StoreChunk> {
        (!self.store.is_empty()).then(|| std::mem::take(&mut self.store))
    }
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
}

impl std::fmt::Debug for SpanPipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpanPipeline").field("export", &self.export).field("store", &self.store).finish_non_exhaustive()
    }
}

/// Asks a destination's task to write out what it holds; the receiver
/// hears when it has.
pub(crate) type Flush = mpsc::Sender<oneshot::Sender<()>>;

/// A destination task's side of the pipeline: its queue of full chunks,
/// and its flush requests.
pub(crate) struct Inbox<T> {
    pub(crate) chunks: Arc<FullChunks<T>>,
    pub(crate) flush: Flush,
}

impl<T> std::fmt::Debug for Inbox<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inbox").field("dropped", &self.chunks.dropped).finish_non_exhaustive()
    }
}

/// Full chunks waiting for a destination's task, at most `capacity`.
pub(crate) struct FullChunks<T> {
    queue: Mutex<Vec<T>>,
    capacity: usize,
    /// Spans dropped because the task was behind; the task logs them.
    pub(crate) dropped: AtomicU64,
}

impl<T> FullChunks<T> {
    pub(crate) fn new(capacity: usize) -> Arc<Self> {
        Arc::new(Self { queue: Mutex::new(Vec::new()), capacity, dropped: AtomicU64::new(0) })
    }

    /// Queues a full chunk of `spans` spans, or drops it (counted) when the
    /// task is behind.
    fn push(&self, chunk: T, spans: usize) {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        if queue.len() < self.capacity {
            queue.push(chunk);
        } else {
            drop(queue);
            self.dropped.fetch_add(spans as u64, Ordering::Relaxed);
        }
    }

    /// The queued chunks, oldest first.
    pub(crate) fn take(&self) -> Vec<T> {
        std::mem::take(&mut *self.queue.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl SpanPipeline {
    /// Starts the destinations' tasks on the current tokio runtime; `None`
    /// when there is neither.
    pub(crate) fn start(
        export: Option<OtlpConfig>,
        store: Option<&SpanStoreConfig>,
        resource: &Resource,
        service: &str,
    ) -> Result<Option<Self>, argus_store::StoreError> {
        if export.is_none() && store.is_none() {
            return Ok(None);
        }
        let shards: Arc<[Mutex<Shard>]> = (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect();
        let store = store.map(|config| span_store::start(config, service.to_owned(), shards.clone())).transpose()?;
        let export = export.map(|config| crate::otlp::start(config, resource, shards.clone()));
        Ok(Some(Self { shards, export, store }))
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
        let stored = match &self.store {
            Some(_) => span_store::tenant_work(&span),
            None => None,
        };
        if self.export.is_none() && stored.is_none() {
            return;
        }
        let (mut full_export, mut full_store) = (Vec::new(), None);
        {
            // A poisoned shard only means a panic mid-encoding elsewhere;
            // its chunks are whole up to the last finished span.
            let mut guard = self.shards[shard_index()].lock().unwrap_or_else(PoisonError::into_inner);
            let Shard { encoder, shown, export, store } = &mut *guard;
            let mut exported = None;
            if self.export.is_some() {
                if export.as_ref().is_some_and(|chunk| chunk.scope != span.instrumentation_scope) {
                    full_export.extend(export.take());
                }
                let chunk = export.get_or_insert_with(|| ScopeChunk {
                    scope: span.instrumentation_scope.clone(),
                    bytes: Vec::with_capacity(CHUNK_BYTES + CHUNK_BYTES / 4),
                    spans: 0,
                });
                let start = chunk.bytes.len();
                encoder.encode(&span, |_| true, &mut chunk.bytes);
                chunk.spans += 1;
                exported = Some(start);
            }
            if let Some(tenant) = stored {
                // The exported encoding serves when every attribute is
                // shown to tenants; otherwise the span is encoded again
                // without the others.
                match (exported, export.as_ref()) {
                    (Some(start), Some(chunk)) if span.attributes.iter().all(|kv| shown.allows(&kv.key)) => {
                        store.push(&span, tenant, |bytes| bytes.extend_from_slice(&chunk.bytes[start..]));
                    }
                    _ => store.push(&span, tenant, |bytes| encoder.encode(&span, |key| shown.allows(key), bytes)),
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

    fn force_flush(&self) -> OTelSdkResult {
        self.request_flushes();
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        self.request_flushes();
        Ok(())
    }
}
