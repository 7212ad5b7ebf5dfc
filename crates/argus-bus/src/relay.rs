//! The outbox relay: publishes committed outbox rows and deletes them once
//! the broker confirmed them.
//!
//! While rows keep coming it polls every `busy_poll`, and writers do not
//! notify it: a NOTIFY holds a database-wide lock through its commit, so
//! notifying commits could not share a WAL flush. Once a claim finds
//! nothing it takes the outbox's wake lock ([`argus_store::outbox::WAKE_LOCK`])
//! on its LISTEN session, which makes writers notify again; taking it
//! waits out every writer that did not notify, so one more claim sees all
//! they wrote; then it sleeps until a notification (the insert trigger's
//! NOTIFY, sent at commit) or `poll_interval`, so a lost notification or a
//! broken listen connection only delays messages. When the broker fails,
//! rows stay unsent and the relay retries with back-off: an outage delays
//! messages and loses none. Several relays may run at once: each claims
//! rows with `FOR UPDATE SKIP LOCKED`, so each row is published by one.

use std::time::Duration;

use argus_store::Store;
use argus_store::outbox::{OutboxListener, OutboxMessage, RelayedBatch, WakeLock};
use argus_telemetry::metrics::catalog::{OUTBOX_MESSAGES, OUTBOX_PUBLISH_DURATION};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::{BusError, Message, Publisher};

/// How the relay paces itself.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Rows claimed and published per transaction.
    pub batch_size: i64,
    /// Poll this often even without a notification.
    pub poll_interval: Duration,
    /// While rows keep coming, claim again after this long (writers do not
    /// notify a busy relay): the most a row waits for the next batch.
    pub busy_poll: Duration,
    /// Back-off after a failed pass, doubling from `min` to `max`.
    pub min_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            batch_size: 200,
            poll_interval: Duration::from_secs(1),
            busy_poll: Duration::from_millis(10),
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
        }
    }
}

/// What the relay does after a pass.
enum Next {
    /// Claim again at once.
    Drain,
    /// Claim again after this long, whatever is notified.
    Pause(Duration),
    /// Wait for a notification, or `poll_interval`.
    Sleep,
}

/// Publishes the outbox of one database.
pub struct OutboxRelay {
    store: Store,
    database_url: String,
    publisher: Publisher,
    config: RelayConfig,
}

impl OutboxRelay {
    /// `database_url` is for the dedicated LISTEN connection (a LISTEN
    /// belongs to one session, so it cannot come from the pool).
    pub fn new(store: Store, database_url: impl Into<String>, publisher: Publisher, config: RelayConfig) -> Self {
        Self { store, database_url: database_url.into(), publisher, config }
    }

    /// Runs until `shutdown` is cancelled; a batch in progress is finished
    /// (published and deleted, or left unsent) before it returns.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut listener: Option<OutboxListener> = None;
        let mut backoff = self.config.min_backoff;
        while !shutdown.is_cancelled() {
            // Listen before draining, so a commit during the drain still
            // wakes the next wait.
            if listener.is_none() {
                match OutboxListener::connect(&self.database_url).await {
                    Ok(l) => listener = Some(l),
                    Err(e) => tracing::warn!(error = %e, "cannot LISTEN for outbox rows; polling only"),
                }
            }

            let next = match self.drain(&shutdown).await {
                Ok(relayed) => {
                    backoff = self.config.min_backoff;
                    self.after_drain(&mut listener, relayed).await
                }
                Err(e) => {
                    tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "outbox relay pass failed");
                    let pause = backoff;
                    backoff = (backoff * 2).min(self.config.max_backoff);
                    // After a failure, wait out the back-off whatever is
                    // notified: the broker (or database) needs the time.
                    Next::Pause(pause)
                }
            };

            match next {
                Next::Drain => {}
                Next::Pause(pause) => {
                    tokio::select! {
                        () = shutdown.cancelled() => break,
                        () = tokio::time::sleep(pause) => {}
                    }
                }
                Next::Sleep => {
                    let wait = async {
                        match listener.as_mut() {
                            Some(l) => l.wait(self.config.poll_interval).await,
                            None => {
                                tokio::time::sleep(self.config.poll_interval).await;
                                Ok(false)
                            }
                        }
                    };
                    let woke = tokio::select! {
                        () = shutdown.cancelled() => break,
                        woke = wait => woke,
                    };
                    if let Err(e) = woke {
                        tracing::warn!(error = %e, "outbox LISTEN connection lost; reconnecting");
                        listener = None;
                    }
                }
            }
        }
        tracing::info!("outbox relay stopped");
    }

    /// What follows a drain that relayed `relayed` rows: poll again soon
    /// while rows come (writers are not notifying), otherwise ask writers
    /// to notify and, once every writer that did not has committed, claim
    /// once more before sleeping.
    async fn after_drain(&self, listener: &mut Option<OutboxListener>, relayed: usize) -> Next {
        let Some(l) = listener.as_mut() else {
            return if relayed > 0 { Next::Pause(self.config.busy_poll) } else { Next::Sleep };
        };
        let step = if relayed > 0 {
            l.release_wake_lock().await.map(|()| Next::Pause(self.config.busy_poll))
        } else {
            l.take_wake_lock().await.map(|taken| match taken {
                WakeLock::Taken => Next::Drain,
                WakeLock::Held | WakeLock::HeldByAnotherRelay => Next::Sleep,
                WakeLock::WritersInFlight => Next::Pause(self.config.busy_poll),
            })
        };
        step.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "outbox LISTEN connection lost; reconnecting");
            *listener = None;
            Next::Pause(self.config.busy_poll)
        })
    }

    /// Publishes batches until the outbox is empty (of rows no other relay
    /// holds); returns how many rows it published. `Err` when a batch
    /// published nothing. A batch where only
    /// some rows failed (say one the broker cannot route) goes on, so one
    /// bad row does not slow every other message down to the back-off.
    async fn drain(&self, shutdown: &CancellationToken) -> Result<usize, BusError> {
        let mut relayed = 0;
        loop {
            let batch = self.relay_batch().await?;
            if batch.sent == 0 && batch.claimed > 0 {
                return Err(BusError::Unavailable(format!("none of {} outbox rows confirmed", batch.claimed)));
            }
            relayed += batch.sent;
            let full = i64::try_from(batch.claimed).unwrap_or(i64::MAX) >= self.config.batch_size;
            if !full || shutdown.is_cancelled() {
                return Ok(relayed);
            }
        }
    }

    /// One pass: claims a batch, publishes it, deletes the confirmed rows.
    /// Public for tests and tools that want to flush the outbox once.
    pub async fn relay_batch(&self) -> Result<RelayedBatch, BusError> {
        let publisher = &self.publisher;
        let batch = self
            .store
            .relay_outbox_batch(self.config.batch_size, move |rows: Vec<OutboxMessage>| async move {
                let messages: Vec<(crate::Exchange, &str, Message)> =
                    rows.iter().map(|row| (row.exchange.into(), row.routing_key.as_str(), to_message(row))).collect();
                let started = Instant::now();
                let results = publisher.publish_many(messages.iter().map(|(e, k, m)| (*e, *k, m))).await;
                record_batch(&results, started.elapsed());
                rows.iter()
                    .zip(results)
                    .filter_map(|(row, result)| match result {
                        Ok(()) => Some(row.id),
                        Err(e) => {
                            tracing::warn!(message_id = %row.message_id, error = %e, "outbox row not published");
                            None
                        }
                    })
                    .collect()
            })
            .await?;
        if batch.sent > 0 {
            tracing::debug!(sent = batch.sent, "published outbox rows");
        }
        Ok(batch)
    }
}

/// The relay's metrics: a batch's time from publish to the broker's last
/// confirm, and its rows published or not.
fn record_batch(results: &[Result<(), BusError>], took: Duration) {
    let published = results.iter().filter(|r| r.is_ok()).count();
    metrics::histogram!(OUTBOX_PUBLISH_DURATION.name).record(took.as_secs_f64());
    metrics::counter!(OUTBOX_MESSAGES.name, "outcome" => "published").increment(published as u64);
    metrics::counter!(OUTBOX_MESSAGES.name, "outcome" => "failed").increment((results.len() - published) as u64);
}

fn to_message(row: &OutboxMessage) -> Message {
    Message {
        message_id: row.message_id.clone(),
        kind: row.kind.clone(),
        tenant_id: row.tenant_id.clone(),
        payload: row.payload.clone(),
        headers: row.headers.clone(),
        timestamp: Some(row.created_at.into()),
    }
}
