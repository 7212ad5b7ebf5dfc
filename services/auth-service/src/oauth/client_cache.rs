//! Authenticated clients kept in memory, so the token endpoint's hot path
//! makes no database round trip (it was a third of a token's cost besides
//! signing).
//!
//! Kept correct across replicas by PostgreSQL: a trigger notifies
//! [`CLIENT_CHANGED_CHANNEL`] with the `client_id` whenever an app or one of
//! its secrets changes, whoever changed it, and every replica's listener
//! forgets that client. While the listener is not connected, nothing is
//! served from memory; when it reconnects, everything kept before is
//! forgotten, since what changed meanwhile cannot be told. A replica that
//! makes a change itself forgets at once, without waiting for the notice.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard, Weak};
use std::time::{Duration, Instant};

use argus_store::listen::Listener;
use argus_store::oauth::{CLIENT_CHANGED_CHANNEL, ClientCredentials};
use argus_store::{Store, StoreError};
use argus_types::ClientId;

/// Bounds memory; unknown client ids are never kept, so only registered
/// apps can fill it.
const MAX_ENTRIES: usize = 10_000;
/// A bound on staleness should a notice ever be missed.
const MAX_AGE: Duration = Duration::from_secs(60);
/// A listener that has heard nothing for this long checks its connection.
const PING_AFTER: Duration = Duration::from_secs(15);
const PING_TIMEOUT: Duration = Duration::from_secs(5);
const RECONNECT_MAX: Duration = Duration::from_secs(5);
pub const LISTENER_APPLICATION_NAME: &str = "argus-client-cache";

pub struct ClientCache {
    entries: RwLock<HashMap<String, Entry>>,
    /// Bumped by every forgetting, under the write lock: a load that raced
    /// one does not keep what it read.
    generation: AtomicU64,
    /// Whether the change listener is connected.
    listening: AtomicBool,
}

struct Entry {
    credentials: Arc<ClientCredentials>,
    loaded: Instant,
}

impl ClientCache {
    /// A cache fed by a listener on `database_url`, running on the current
    /// runtime until the cache is dropped.
    pub fn listening_to(database_url: String) -> Arc<Self> {
        let cache = Arc::new(Self {
            entries: RwLock::new(HashMap::new()),
            generation: AtomicU64::new(0),
            listening: AtomicBool::new(false),
        });
        tokio::spawn(listen(Arc::downgrade(&cache), database_url));
        cache
    }

    /// The client's app and secrets, from memory when they can be trusted,
    /// else from the database (and then kept).
    pub async fn get(&self, store: &Store, client_id: &ClientId) -> Result<Option<Arc<ClientCredentials>>, StoreError> {
        if self.listening.load(Ordering::Acquire)
            && let Some(entry) = self.read().get(client_id.as_str())
            && entry.loaded.elapsed() < MAX_AGE
        {
            return Ok(Some(entry.credentials.clone()));
        }
        let generation = self.generation.load(Ordering::Acquire);
        let Some(found) = store.client_for_authentication(client_id).await? else { return Ok(None) };
        let found = Arc::new(found);
        self.keep(client_id.as_str(), &found, generation);
        Ok(Some(found))
    }

    fn keep(&self, client_id: &str, credentials: &Arc<ClientCredentials>, loaded_at_generation: u64) {
        let mut entries = self.write();
        if !self.listening.load(Ordering::Acquire) || self.generation.load(Ordering::Acquire) != loaded_at_generation {
            return;
        }
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(client_id) {
            entries.retain(|_, e| e.loaded.elapsed() < MAX_AGE);
            if entries.len() >= MAX_ENTRIES {
                return;
            }
        }
        entries.insert(client_id.to_owned(), Entry { credentials: credentials.clone(), loaded: Instant::now() });
    }

    /// Forgets one client: its app or secrets changed.
    pub fn forget(&self, client_id: &str) {
        let mut entries = self.write();
        entries.remove(client_id);
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    fn forget_all(&self) {
        let mut entries = self.write();
        entries.clear();
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    fn read(&self) -> RwLockReadGuard<'_, HashMap<String, Entry>> {
        self.entries.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, HashMap<String, Entry>> {
        self.entries.write().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

async fn listen(cache: Weak<ClientCache>, database_url: String) {
    let mut backoff = Duration::from_millis(100);
    while cache.strong_count() > 0 {
        match Listener::connect(&database_url, CLIENT_CHANGED_CHANNEL, LISTENER_APPLICATION_NAME).await {
            Ok(mut listener) => {
                backoff = Duration::from_millis(100);
                {
                    let Some(cache) = cache.upgrade() else { return };
                    cache.forget_all();
                    cache.listening.store(true, Ordering::Release);
                }
                let lost = loop {
                    match listener.wait(PING_AFTER).await {
                        Ok(changed) if changed.is_empty() => {
                            match tokio::time::timeout(PING_TIMEOUT, listener.ping()).await {
                                Ok(Ok(())) => {}
                                Ok(Err(e)) => break e.to_string(),
                                Err(_) => break "the connection did not answer".to_owned(),
                            }
                        }
                        Ok(changed) => {
                            let Some(cache) = cache.upgrade() else { return };
                            for client_id in changed {
                                cache.forget(&client_id);
                            }
                        }
                        Err(e) => break e.to_string(),
                    }
                    if cache.strong_count() == 0 {
                        return;
                    }
                };
                let Some(cache) = cache.upgrade() else { return };
                cache.listening.store(false, Ordering::Release);
                cache.forget_all();
                tracing::warn!(error = %lost, "client change listener lost; clients are read from the database until it is back");
            }
            Err(e) => tracing::warn!(error = %e, "client change listener cannot connect; retrying"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(RECONNECT_MAX);
    }
}
