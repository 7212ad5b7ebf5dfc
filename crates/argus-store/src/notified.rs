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
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use crate::StoreError;
use crate::listen::{Follower, follow};

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
        tokio::spawn(follow(Arc::downgrade(&cache), config.database_url, config.channel, config.application_name));
        cache
    }

    /// The value under `key`, from memory when it can be trusted, else from
    /// `load` (and then kept unless something was forgotten meanwhile).
    pub async fn get_or_load<E>(
        &self,
        key: &str,
        load: impl Future<Output = Result<Option<V>, E>>,
    ) -> Result<Option<Arc<V>>, E> {
        self.get_or_load_unless(key, |_| false, load).await
    }

    /// Like [`NotifiedCache::get_or_load`], but a kept value that `stale`
    /// says is too old for this caller is loaded again (and replaced),
    /// whatever the notices said.
    pub async fn get_or_load_unless<E>(
        &self,
        key: &str,
        stale: impl FnOnce(&V) -> bool,
        load: impl Future<Output = Result<Option<V>, E>>,
    ) -> Result<Option<Arc<V>>, E> {
        if self.listening.load(Ordering::Acquire)
            && let Some(entry) = self.read().get(key)
            && entry.loaded.elapsed() < self.max_age
            && !stale(&entry.value)
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

impl<V: Send + Sync + 'static> Follower for NotifiedCache<V> {
    async fn connected(&self) -> Result<(), StoreError> {
        self.forget_all();
        self.listening.store(true, Ordering::Release);
        Ok(())
    }

    fn notified(&self, changed: Vec<String>) {
        for key in changed {
            self.forget(&key);
        }
    }

    fn lost(&self) {
        self.listening.store(false, Ordering::Release);
        self.forget_all();
    }
}
