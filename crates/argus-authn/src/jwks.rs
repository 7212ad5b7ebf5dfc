//! A [`KeySource`] over a remote JWKS (the auth-service's
//! `/.well-known/jwks.json`), for services that verify tokens they did not
//! issue.
//!
//! The set is cached. It is refreshed in the background before it expires
//! (its `Cache-Control: max-age`, clamped to [`JwksOptions::min_ttl`] ..
//! [`JwksOptions::max_ttl`]), and on a token with an unknown `kid`, at most
//! once per [`JwksOptions::unknown_kid_interval`] so a flood of forged
//! tokens cannot become a flood of fetches. A failed fetch keeps the cached
//! keys: a token signed by a known key still verifies while the auth-service
//! is down.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use argus_crypto::JwkSet;
use jsonwebtoken::DecodingKey;
use reqwest::header::CACHE_CONTROL;
use tracing::Instrument;

use crate::{AuthnError, KeySource};

#[derive(Debug, Clone)]
pub struct JwksOptions {
    /// Lower bound on how long a fetched set is trusted before a refresh.
    pub min_ttl: Duration,
    /// Upper bound, whatever the server's `max-age` says, and the lifetime
    /// used when it says nothing.
    pub max_ttl: Duration,
    /// At most one fetch triggered by unknown `kid`s per this interval.
    pub unknown_kid_interval: Duration,
    /// Delay before retrying a failed background refresh.
    pub retry_after_failure: Duration,
    /// Timeout of one fetch.
    pub request_timeout: Duration,
    /// The key set the document must say it is (its `key_set`): a set
    /// that says otherwise, or nothing, is refused whole and none of its
    /// keys trusted. `None` takes any set (a verifier outside Argus's two
    /// environments).
    pub key_set: Option<argus_types::Environment>,
}

impl Default for JwksOptions {
    fn default() -> Self {
        Self {
            min_ttl: Duration::from_secs(30),
            max_ttl: Duration::from_secs(3600),
            unknown_kid_interval: Duration::from_secs(5),
            retry_after_failure: Duration::from_secs(5),
            request_timeout: Duration::from_secs(5),
            key_set: None,
        }
    }
}

struct Cached {
    keys: HashMap<String, DecodingKey>,
    /// When the background task should refresh.
    refresh_at: Instant,
}

pub struct RemoteJwks {
    url: String,
    http: reqwest::Client,
    options: JwksOptions,
    cache: RwLock<Cached>,
    /// When the last fetch for an unknown `kid` started; a tokio mutex so
    /// concurrent misses wait for the one fetch instead of each starting one.
    last_on_demand: tokio::sync::Mutex<Option<Instant>>,
}

impl RemoteJwks {
    /// A source with an empty cache: the first verification (or
    /// [`RemoteJwks::refresh`]) fetches the set.
    pub fn new(url: impl Into<String>, options: JwksOptions) -> Arc<Self> {
        let http = reqwest::Client::builder()
            .timeout(options.request_timeout)
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Arc::new(Self {
            url: url.into(),
            http,
            cache: RwLock::new(Cached { keys: HashMap::new(), refresh_at: Instant::now() }),
            last_on_demand: tokio::sync::Mutex::new(None),
            options,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The `kid`s currently cached.
    pub fn cached_kids(&self) -> Vec<String> {
        self.read_cache(|c| c.keys.keys().cloned().collect())
    }

    fn read_cache<T>(&self, f: impl FnOnce(&Cached) -> T) -> T {
        // A poisoned lock only means a writer panicked mid-swap; the map it
        // holds is still a whole map.
        match self.cache.read() {
            Ok(c) => f(&c),
            Err(p) => f(&p.into_inner()),
        }
    }

    /// Fetches the set and replaces the cache. On failure the cache is kept.
    pub async fn refresh(&self) -> Result<usize, AuthnError> {
        let fetch_error = |e: reqwest::Error| AuthnError::KeySet { url: self.url.clone(), reason: e.to_string() };
        let span = match url::Url::parse(&self.url) {
            Ok(url) => argus_telemetry::outbound::http_client_span("GET", &url),
            Err(_) => tracing::Span::none(),
        };
        let mut request = self.http.get(&self.url);
        for (name, value) in argus_telemetry::propagation::headers_of(&span) {
            request = request.header(name, value);
        }
        let response = match request.send().instrument(span.clone()).await {
            Ok(response) => response,
            Err(e) => {
                argus_telemetry::outbound::record_failure(&span, "connect");
                return Err(fetch_error(e));
            }
        };
        argus_telemetry::outbound::record_status(&span, response.status().as_u16());
        if !response.status().is_success() {
            let reason = format!("answered {}", response.status());
            return Err(AuthnError::KeySet { url: self.url.clone(), reason });
        }
        let ttl = response
            .headers()
            .get(CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .and_then(argus_types::cache_control::max_age)
            .unwrap_or(self.options.max_ttl)
            .clamp(self.options.min_ttl, self.options.max_ttl);
        let set: JwkSet = response.json().await.map_err(fetch_error)?;
        if let Some(expected) = self.options.key_set
            && set.key_set != Some(expected)
        {
            let found = set.key_set.map_or_else(|| "unmarked".to_owned(), |s| s.to_string());
            return Err(AuthnError::WrongKeySet { url: self.url.clone(), found, expected });
        }
        let keys: HashMap<String, DecodingKey> = set
            .keys
            .iter()
            // RS256 only: a key for any other algorithm is not ours to use.
            .filter(|k| k.kty == "RSA" && (k.alg.is_empty() || k.alg == "RS256") && k.use_ != "enc")
            .filter_map(|k| DecodingKey::from_rsa_components(&k.n, &k.e).ok().map(|d| (k.kid.clone(), d)))
            .collect();
        let n = keys.len();
        // Refresh a little before expiry so a rotation is seen in time.
        let refresh_at = Instant::now() + ttl.mul_f64(0.8);
        match self.cache.write() {
            Ok(mut c) => *c = Cached { keys, refresh_at },
            Err(p) => *p.into_inner() = Cached { keys, refresh_at },
        }
        tracing::debug!(url = %self.url, keys = n, ?ttl, "JWKS refreshed");
        Ok(n)
    }

    /// Keeps the set fresh until the returned handle is aborted (or the
    /// runtime stops).
    pub fn spawn_background_refresh(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        // A weak reference, so a dropped verifier ends the task.
        let this = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let Some(source) = this.upgrade() else { return };
                let wait = source.read_cache(|c| c.refresh_at.saturating_duration_since(Instant::now()));
                drop(source);
                tokio::time::sleep(wait).await;
                let Some(source) = this.upgrade() else { return };
                if let Err(e) = source.refresh().await {
                    tracing::warn!(error = %e, "JWKS refresh failed; serving cached keys");
                    let retry = Instant::now() + source.options.retry_after_failure;
                    match source.cache.write() {
                        Ok(mut c) => c.refresh_at = retry,
                        Err(p) => p.into_inner().refresh_at = retry,
                    }
                }
            }
        })
    }

    async fn refresh_for_unknown_kid(&self) {
        let mut last = self.last_on_demand.lock().await;
        if last.is_some_and(|t| t.elapsed() < self.options.unknown_kid_interval) {
            return;
        }
        *last = Some(Instant::now());
        if let Err(e) = self.refresh().await {
            tracing::warn!(error = %e, "JWKS refresh for an unknown kid failed");
        }
    }
}

impl KeySource for RemoteJwks {
    fn decoding_key<'a>(&'a self, kid: &'a str) -> Pin<Box<dyn Future<Output = Option<DecodingKey>> + Send + 'a>> {
        Box::pin(async move {
            if let Some(key) = self.read_cache(|c| c.keys.get(kid).cloned()) {
                return Some(key);
            }
            self.refresh_for_unknown_kid().await;
            self.read_cache(|c| c.keys.get(kid).cloned())
        })
    }
}
