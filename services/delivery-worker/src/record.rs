//! Group commit for attempt records: concurrent fan-outs and retries hand
//! their attempts to one [`Recorder`], which writes what has queued up
//! meanwhile in one statement per tenant. With one event per delivery (one
//! busy endpoint) each event would otherwise cost a statement and a commit
//! of its own; so a batch forms while the previous one commits, and nothing
//! waits for a timer: an idle worker records each attempt at once.
//!
//! A batch's tenants are recorded concurrently, each with its own
//! statement (one tenant's rows never share a statement with another's),
//! and the next batch starts when the current one has committed, so its
//! size follows the load. A caller learns its own result only once its
//! rows are committed, as before: an attempt is recorded before its
//! message is acked.

use std::collections::HashMap;

use argus_store::webhooks::{Attempted, DeliveryKey};
use argus_store::{Store, StoreError};
use argus_types::TenantId;
use futures_util::future::join_all;
use tokio::sync::{mpsc, oneshot};

use crate::deliver::disable_after;

/// Rows one statement takes at most: bounds a statement's time and memory.
const MAX_BATCH_ROWS: usize = 512;
/// Requests waiting for a batch at most; senders wait beyond it.
const QUEUE: usize = 4096;

/// Why an attempt's bookkeeping failed: the store's error as text, as one
/// failed statement is shared by every caller whose rows it held.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct BookkeepingFailed(String);

impl From<&StoreError> for BookkeepingFailed {
    fn from(e: &StoreError) -> Self {
        Self(e.to_string())
    }
}

impl From<StoreError> for BookkeepingFailed {
    fn from(e: StoreError) -> Self {
        Self::from(&e)
    }
}

struct Request {
    tenant: TenantId,
    attempts: Vec<Attempted>,
    postponed: Vec<DeliveryKey>,
    done: oneshot::Sender<Result<(), BookkeepingFailed>>,
}

/// The handle fan-outs and deliveries record through.
#[derive(Clone)]
pub struct Recorder {
    requests: mpsc::Sender<Request>,
}

impl Recorder {
    /// A recorder writing to `store`, running on the current runtime until
    /// every handle is dropped.
    pub fn start(store: Store) -> Self {
        let (requests, queued) = mpsc::channel(QUEUE);
        tokio::spawn(run(store, queued));
        Self { requests }
    }

    /// Records attempts and postponed deliveries of one tenant
    /// ([`Store::record_attempts`]), returning once they are committed.
    pub async fn record(
        &self,
        tenant: &TenantId,
        attempts: Vec<Attempted>,
        postponed: Vec<DeliveryKey>,
    ) -> Result<(), BookkeepingFailed> {
        if attempts.is_empty() && postponed.is_empty() {
            return Ok(());
        }
        let (done, result) = oneshot::channel();
        let request = Request { tenant: tenant.clone(), attempts, postponed, done };
        self.requests.send(request).await.map_err(|_| BookkeepingFailed("the recorder has stopped".to_owned()))?;
        result.await.map_err(|_| BookkeepingFailed("the recorder has stopped".to_owned()))?
    }
}

async fn run(store: Store, mut queued: mpsc::Receiver<Request>) {
    while let Some(first) = queued.recv().await {
        let mut rows = first.attempts.len() + first.postponed.len();
        let mut batch = vec![first];
        while rows < MAX_BATCH_ROWS {
            let Ok(next) = queued.try_recv() else { break };
            rows += next.attempts.len() + next.postponed.len();
            batch.push(next);
        }
        join_all(by_tenant(batch).into_iter().map(|group| group.write(&store))).await;
    }
}

/// One tenant's rows of a batch, and whom to tell.
struct Group {
    tenant: TenantId,
    attempts: Vec<Attempted>,
    postponed: Vec<DeliveryKey>,
    waiting: Vec<oneshot::Sender<Result<(), BookkeepingFailed>>>,
}

impl Group {
    async fn write(self, store: &Store) {
        let result = store.record_attempts(&self.tenant, &self.attempts, &self.postponed, disable_after()).await;
        if let Err(e) = &result {
            tracing::warn!(error = %e, requests = self.waiting.len(), "recording attempts failed");
        }
        let result = result.as_ref().map(|_| ()).map_err(BookkeepingFailed::from);
        for done in self.waiting {
            // A caller that gave up is no reason to stop.
            let _ = done.send(result.clone());
        }
    }
}

fn by_tenant(batch: Vec<Request>) -> Vec<Group> {
    let mut groups: HashMap<TenantId, Group> = HashMap::new();
    for Request { tenant, attempts, postponed, done } in batch {
        let group = groups.entry(tenant.clone()).or_insert_with(|| Group {
            tenant,
            attempts: Vec::new(),
            postponed: Vec::new(),
            waiting: Vec::new(),
        });
        group.attempts.extend(attempts);
        group.postponed.extend(postponed);
        group.waiting.push(done);
    }
    groups.into_values().collect()
}
