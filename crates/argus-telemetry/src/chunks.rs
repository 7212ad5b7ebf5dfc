//! What the span processor and its destinations share: chunk sizes, the
//! queues of full chunks, flush requests, and the protobuf framing. A leaf
//! module, so the destinations never depend on the processor.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use prost::encoding::{WireType, encode_key, encode_varint};
use tokio::sync::{mpsc, oneshot};

/// Spans, and encoded bytes, that fill a chunk: small enough that the
/// allocator hands the memory back warm (256 KiB chunks took fresh, zeroed
/// pages from the kernel every time).
pub(crate) const CHUNK_SPANS: usize = 128;
pub(crate) const CHUNK_BYTES: usize = 48 * 1024;
/// How often a destination's task takes the full chunks queued for it.
pub(crate) const COLLECT_EVERY: Duration = Duration::from_millis(20);

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
    /// Spans dropped because the task was behind (and, for the exporter,
    /// in exports that failed); the task logs them. The span store's writer
    /// takes the count as it logs it; the exporter keeps the running total.
    pub(crate) dropped: AtomicU64,
    /// The destination's name in `argus_spans_dropped_total`.
    destination: &'static str,
}

impl<T> FullChunks<T> {
    pub(crate) fn new(capacity: usize, destination: &'static str) -> Arc<Self> {
        Arc::new(Self { queue: Mutex::new(Vec::new()), capacity, dropped: AtomicU64::new(0), destination })
    }

    /// Counts `spans` spans lost on the way to this destination: for its
    /// task's log line, and in the metrics.
    pub(crate) fn count_dropped(&self, spans: usize) {
        self.dropped.fetch_add(spans as u64, Ordering::Relaxed);
        crate::metrics::spans_dropped(self.destination, spans);
    }

    /// Queues a full chunk of `spans` spans, or drops it (counted) when the
    /// task is behind.
    pub(crate) fn push(&self, chunk: T, spans: usize) {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        if queue.len() < self.capacity {
            queue.push(chunk);
        } else {
            drop(queue);
            self.count_dropped(spans);
        }
    }

    /// The queued chunks, oldest first.
    pub(crate) fn take(&self) -> Vec<T> {
        std::mem::take(&mut *self.queue.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// Takes the chunks the processor's shards are still filling: a
/// destination's task calls it on its flush tick.
pub(crate) type Partials<T> = Arc<dyn Fn() -> Vec<T> + Send + Sync>;

/// One length-delimited field: its key, its length, its bytes.
pub(crate) fn length_delimited(field: u32, bytes: &[u8], out: &mut Vec<u8>) {
    encode_key(field, WireType::LengthDelimited, out);
    encode_varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}
