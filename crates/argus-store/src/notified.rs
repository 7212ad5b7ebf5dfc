//! Rows kept in memory and forgotten when PostgreSQL says they changed.
//!
//! A trigger on the table notifies a channel with the changed row's key
//! (or a key prefix ending in `*`, for statements that change many rows);
//! each process's listener forgets what the notice names. While the
//! listener is not connected, nothing is served from memory; when it
//! reconnects, everything kept before is forgotten, since what changed
//! meanwhile cannot be told. A process that makes a change itself forgets
//! at once ([`NotifiedCache::forget`]) instead of waiting for the notice;
//! other processes follow within the notice's delivery time (milliseconds).

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard, Weak};
use std::time::{Duration, Instant};

use crate::listen::Listener;

/// A listener that has heard nothing for this long checks its connection.
const PING_AFTER: Duration = Duration::from_secs(15);
const PING_TIMEOUT: Duration = Duration::from_secs(5);
const RECONNECT_MAX: Duration = Duration::from_secs(5);

/// What a cache listens to and how much it keeps.
#[derive(Debug, Clone)]
pub struct CacheConfig {
    pub database_url: String,
    /// The channel the table's trigger notifies.
    pub channel: &'static str,
    /// The listener's `application_name`, so operators (and tests) can tell
    /// its session apart in `pg_stat_activity`.
    pub application_name: &'static str,
    /// Entries kept at most; misses are never kept, so only rows that
    /// exist can fill it.
    pub capacity: usize,
    /// A bound on staleness should a notice ever be missed.
    pub max_age: Duration,
}

pub struct NotifiedCache<V> {
    entries: RwLock<HashMap<String, Entry<V>>>,
    /// Bumped by every forgetting, under the write lock: a load that raced
    /// one does not keep what it read.
    generation: AtomicU64,
    /// Whether the change listener is connected.
    listening: AtomicBool,
    capacity: usize,
    max_age: Duration,
}

struct Entry<V> {
    value: Arc<V>,
    loaded: Instant,
}

impl<V: Send + Sync + 'static> NotifiedCache<V> {
    /// A cache fed by its listener, which runs on the current runtime until
    /// the cache is dropped.
    pub fn listening(config: CacheConfig) -> Arc<Self> {
        let cache = Arc::new(Self {
            entries: RwLock::new(HashMap::new()),
            generation: AtomicU64::new(0),
            listening: AtomicBool::new(false),
            capacity: config.capacity,
            max_age: config.max_age,
        });
        tokio::spawn(listen(Arc::downgrade(&cache), config));
        cache
    }

    /// The value under `key`, from memory when it can be trusted, else from
    /// `load` (and then kept unless something was forgotten meanwhile).
    pub async fn get_or_load<E>(
        &self,
        key: &str,
        load: impl Future<Output = Result<Option<V>, E>>,
    ) -> Result<Option<Arc<V>>, E> {
        if self.listening.load(Ordering::Acquire)
            && let Some(entry) = self.read().get(key)
            && entry.loaded.elapsed() < self.max_age
        {
            return Ok(Some(entry.value.clone()));
        }
        let generation = self.generation.load(Ordering::Acquire);
        let Some(found) = load.await? else { return Ok(None) };
        let found = Arc::new(found);
        self.keep(key, &found, generation);
        Ok(Some(found))
    }

    fn keep(&self, key: &str, value: &Arc<V>, loaded_at_generation: u64) {
        let mut entries = self.write();
        if !self.listening.load(Ordering::Acquire) || self.generation.load(Ordering::Acquire) != loaded_at_generation {
            return;
        }
        if entries.len() >= self.capacity && !entries.contains_key(key) {
            let max_age = self.max_age;
            entries.retain(|_, e| e.loaded.elapsed() < max_age);
            if entries.len() >= self.capacity {
                return;
            }
        }
        entries.insert(key.to_owned(), Entry { value: value.clone(), loaded: Instant::now() });
    }

    /// Forgets `key`, or every key a `prefix*` names.
    pub fn forget(&self, key: &str) {
        let mut entries = self.write();
        match key.strip_suffix('*') {
            Some(prefix) => entries.retain(|k, _| !k.starts_with(prefix)),
            None => {
                entries.remove(key);
            }
        }
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    fn forget_all(&self) {
        let mut entries = self.write();
        entries.clear();
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    fn read(&self) -> RwLockReadGuard<'_, HashMap<String, Entry<V>>> {
        self.entries.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, HashMap<String, Entry<V>>> {
        self.entries.write().unwrap_or_else(PoisonError::into_inner)
    }
}

async fn listen<V: Send + Sync + 'static>(cache: Weak<NotifiedCache<V>>, config: CacheConfig) {
    let mut backoff = Duration::from_millis(100);
    while cache.strong_count() > 0 {
        match Listener::connect(&config.database_url, config.channel, config.application_name).await {
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
                            for key in changed {
                                cache.forget(&key);
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
                tracing::warn!(
                    channel = config.channel,
                    error = %lost,
                    "change listener lost; reading from the database until it is back"
                );
            }
            Err(e) => {
                tracing::warn!(channel = config.channel, error = %e, "change listener cannot connect; retrying");
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(RECONNECT_MAX);
    }
}
