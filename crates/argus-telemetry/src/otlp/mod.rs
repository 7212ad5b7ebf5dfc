//! OTLP export of the spans the pipeline encoded, to a collector in batches,
//! over HTTP/protobuf (the default) or gRPC, retried as the OTLP exporter
//! spec says.
//!
//! This replaces opentelemetry-otlp's exporter, which takes `SpanData` on a
//! thread of its own and converts every span into freshly allocated
//! opentelemetry-proto messages there; at request rate that alone cost
//! several percent of throughput, and the span store needed the same spans
//! encoded once more (docs/architecture.md, "Why not opentelemetry-otlp's
//! exporter", has the figures). Here each span is encoded once, on the
//! thread that ended it, and a batch's message is the encoded spans framed
//! by the generated messages' own encodings ([`encoding`]). The exporter
//! keeps opentelemetry-otlp's behaviour: the standard variables
//! ([`config`]), gzip, TLS and mutual TLS, retries with backoff, jitter and
//! the collector's `Retry-After` or `RetryInfo` within the export timeout
//! ([`retry`], [`transport`]); over gRPC the same message goes in a gRPC
//! frame to `TraceService/Export` on HTTP/2 ([`grpc`]).

mod config;
mod encoding;
mod grpc;
mod retry;
#[cfg(test)]
mod tests;
mod transport;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTracePartialSuccess;
use opentelemetry_sdk::Resource;
use tokio::sync::{Semaphore, mpsc, oneshot};

pub use config::{OtlpCompression, OtlpConfig, OtlpProtocol};
pub(crate) use encoding::ScopeChunk;

use crate::chunks::{COLLECT_EVERY, FullChunks, Inbox, Partials};
use encoding::{encoded_resource, export_message};
use transport::Transport;

/// Export requests in flight at once (each with its retries); beyond,
/// spans wait in the queue.
const IN_FLIGHT: usize = 2;
/// Full chunks waiting for the exporter; beyond, they are dropped.
const QUEUE_CHUNKS: usize = 128;
/// How often failures and drops are logged at most.
const REPORT_EVERY: Duration = Duration::from_secs(30);

/// Starts the exporter on the current tokio runtime.
pub(crate) fn start(config: OtlpConfig, resource: &Resource, partials: Partials<ScopeChunk>) -> Inbox<ScopeChunk> {
    let chunks = FullChunks::new(QUEUE_CHUNKS, "otlp");
    let (flush, flushes) = mpsc::channel(4);
    let exporter = Exporter {
        transport: Arc::new(Transport::new(&config)),
        resource: encoded_resource(resource),
        pending: VecDeque::new(),
        pending_spans: 0,
        in_flight: Arc::new(Semaphore::new(IN_FLIGHT)),
        report: Arc::new(Report::default()),
        chunks: chunks.clone(),
        dropped_logged: 0,
        config,
    };
    tokio::spawn(exporter.run(flushes, partials));
    Inbox { chunks, flush }
}

/// Failures and drops since they were last logged.
#[derive(Default)]
struct Report {
    /// Exports that failed for good: their spans are counted as dropped.
    failures: AtomicU64,
    rejected: AtomicU64,
    last: Mutex<Option<Instant>>,
    last_error: Mutex<String>,
}

struct Exporter {
    config: OtlpConfig,
    transport: Arc<Transport>,
    resource: Vec<u8>,
    pending: VecDeque<ScopeChunk>,
    pending_spans: usize,
    in_flight: Arc<Semaphore>,
    report: Arc<Report>,
    /// Full chunks from the request threads; their drops, the
    /// exporter's own and the spans of failed exports are counted together,
    /// a running total.
    chunks: Arc<FullChunks<ScopeChunk>>,
    /// The total when last logged.
    dropped_logged: u64,
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
            let message = export_message(&self.resource, &chunks);
            drop(chunks);
            let (transport, report, lost) = (self.transport.clone(), self.report.clone(), self.chunks.clone());
            tokio::spawn(async move {
                let outcome = transport.export(message).await;
                match &outcome {
                    Err(_) => lost.count_dropped(sent),
                    // The refused part of a partial success is lost too, but
                    // not the task's to log: it is logged as rejected.
                    Ok(Some(partial)) => {
                        crate::metrics::spans_dropped("otlp", usize::try_from(partial.rejected_spans).unwrap_or(0));
                    }
                    Ok(None) => {}
                }
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
        // Every permit free: every request finished, retries and all.
        drop(self.in_flight.acquire_many(IN_FLIGHT as u32).await);
        self.report();
    }

    fn report(&mut self) {
        let mut last = self.report.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if last.is_some_and(|at| at.elapsed() < REPORT_EVERY) {
            return;
        }
        let total = self.chunks.dropped.load(Ordering::Relaxed);
        let dropped = total - self.dropped_logged;
        self.dropped_logged = total;
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
    fn record(&self, outcome: Result<Option<ExportTracePartialSuccess>, String>) {
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
