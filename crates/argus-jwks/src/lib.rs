//! The JWKS cache of Argus token verifiers: the SDK's `JwtVerifier`
//! (argus-client) and the services' own (argus-authn) both hold their keys
//! in a [`JwksCache`].
//!
//! The cache keeps the RS256 keys of one published key set. It serves them
//! while they are fresh (the response's `Cache-Control: max-age`, clamped to
//! [`JwksPolicy::min_max_age`] ..= [`JwksPolicy::max_max_age`]), fetches the
//! set again when a verification finds it stale or meets a `kid` it does not
//! hold, at most once per [`JwksPolicy::min_refresh_interval`] so tokens
//! with made-up `kid`s cannot turn into a flood of fetches, and one fetch at
//! a time: concurrent verifications wait for the fetch under way. A failed
//! fetch keeps the keys already known, so a token signed by one still
//! verifies while the key set's server is down. A long-running service can
//! also keep the set fresh in the background
//! ([`JwksCache::spawn_background_refresh`]) so no verification waits.
//!
//! ```no_run
//! # async fn run() -> Result<(), argus_jwks::JwksError> {
//! use argus_jwks::{JwksCache, JwksPolicy};
//!
//! let keys = JwksCache::new("https://auth.knogin.com/.well-known/jwks.json", JwksPolicy::default(), reqwest::Client::new())?;
//! let key = keys.key("kid-from-the-token-header").await?;
//! # Ok(()) }
//! ```

#![deny(missing_docs)]

pub mod cache_control;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use argus_types::Environment;
use jsonwebtoken::DecodingKey;
use reqwest::header::CACHE_CONTROL;
use serde::Deserialize;
use url::Url;

/// The largest key set read: a handful of RSA keys is a few KiB.
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// How a [`JwksCache`] keeps its key set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JwksPolicy {
    /// How long a key set is fresh when its response carries no `max-age`.
    pub default_max_age: Duration,
    /// The shortest a key set is fresh, whatever its `max-age` says
    /// (`no-store` must not mean a fetch per token).
    pub min_max_age: Duration,
    /// The longest a key set is fresh, whatever its `max-age` says.
    pub max_max_age: Duration,
    /// The shortest time between two fetches a verification triggers (a
    /// `kid` the cache does not hold, or a stale set).
    pub min_refresh_interval: Duration,
    /// After a failed background refresh, how long before the next try.
    pub retry_after_failure: Duration,
    /// The key set the document must say it is (its `key_set` member, which
    /// Argus publishes beside `keys`): a document that says otherwise, or
    /// nothing, is refused whole and none of its keys trusted. `None` takes
    /// any set.
    pub key_set: Option<Environment>,
}

impl Default for JwksPolicy {
    fn default() -> Self {
        Self {
            default_max_age: Duration::from_secs(300),
            min_max_age: Duration::from_secs(30),
            max_max_age: Duration::from_secs(3600),
            min_refresh_interval: Duration::from_secs(5),
            retry_after_failure: Duration::from_secs(5),
            key_set: None,
        }
    }
}

/// Why the cache has no key to give.
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    /// The key set's URL does not parse.
    #[error("JWKS URL `{url}`: {reason}")]
    Url {
        /// The URL given.
        url: String,
        /// Why it does not parse.
        reason: String,
    },
    /// The key set could not be fetched or read.
    #[error("key set at {url}: {reason}")]
    Fetch {
        /// The key set's URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The document says it is another environment's key set
    /// ([`JwksPolicy::key_set`]): none of its keys is trusted.
    #[error("the key set at {url} is the {found} key set, and this verifier trusts only the {expected} set")]
    WrongKeySet {
        /// The key set's URL.
        url: String,
        /// What the document says it is (`unmarked` if nothing).
        found: String,
        /// The set the policy trusts.
        expected: Environment,
    },
    /// No key of the set has this `kid` (after the refresh the policy
    /// allowed).
    #[error("kid `{0}` is not in the JWKS")]
    UnknownKid(String),
}

/// Sends the key set's `GET`. Without one the cache sends the request as
/// it is built; a service adds its tracing here (a client span, the
/// caller's `traceparent`).
pub trait JwksTransport: Send + Sync + 'static {
    /// Sends `request`, a `GET` of `url`.
    fn send<'a>(
        &'a self,
        request: reqwest::RequestBuilder,
        url: &'a Url,
    ) -> Pin<Box<dyn Future<Output = reqwest::Result<reqwest::Response>> + Send + 'a>>;
}

/// The keys in memory and when they were fetched.
struct State {
    keys: HashMap<String, DecodingKey>,
    /// When the keys stop being fresh; `None` before the first fetch.
    fresh_until: Option<Instant>,
    /// When the background refresh fetches next (a little before
    /// `fresh_until`, so verifications do not find the set stale).
    refresh_at: Instant,
    /// The last fetch a verification triggered, for the rate limit.
    last_on_demand: Option<Instant>,
}

/// A cached JWKS: see the crate's documentation. Share one per key set
/// (`Arc`).
pub struct JwksCache {
    url: Url,
    http: reqwest::Client,
    transport: Option<Arc<dyn JwksTransport>>,
    policy: JwksPolicy,
    state: RwLock<State>,
    /// One fetch at a time: concurrent verifications wait for it.
    fetching: tokio::sync::Mutex<()>,
}

/// The members of a key set document the cache reads.
#[derive(Deserialize)]
struct Document {
    keys: Vec<JwkMembers>,
    #[serde(default)]
    key_set: Option<Environment>,
}

/// The members of a JWK the cache reads; other members are ignored.
#[derive(Deserialize)]
struct JwkMembers {
    kty: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    alg: Option<String>,
    #[serde(rename = "use", default)]
    use_: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
}

impl JwkMembers {
    /// `(kid, key)` of an RS256 signing key; `None` for any other key,
    /// which no Argus verifier uses.
    fn rs256(self) -> Option<(String, DecodingKey)> {
        let rs256 = self.kty == "RSA"
            && self.alg.as_deref().is_none_or(|alg| alg == "RS256")
            && self.use_.as_deref().is_none_or(|u| u == "sig");
        if !rs256 {
            return None;
        }
        let key = DecodingKey::from_rsa_components(self.n.as_deref()?, self.e.as_deref()?).ok()?;
        Some((self.kid?, key))
    }
}

impl JwksCache {
    /// A cache of the key set at `url` (`http://` or `https://`), empty
    /// until the first verification or [`JwksCache::refresh`]. `http`
    /// carries the caller's timeouts, proxy and TLS roots.
    pub fn new(url: &str, policy: JwksPolicy, http: reqwest::Client) -> Result<Self, JwksError> {
        let invalid = |reason: String| JwksError::Url { url: url.to_owned(), reason };
        let parsed = Url::parse(url).map_err(|e| invalid(e.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(invalid("the scheme must be http or https".into()));
        }
        Ok(Self {
            url: parsed,
            http,
            transport: None,
            policy,
            state: RwLock::new(State {
                keys: HashMap::new(),
                fresh_until: None,
                refresh_at: Instant::now(),
                last_on_demand: None,
            }),
            fetching: tokio::sync::Mutex::new(()),
        })
    }

    /// Sends the fetches through `transport`.
    pub fn with_transport(mut self, transport: Arc<dyn JwksTransport>) -> Self {
        self.transport = Some(transport);
        self
    }

    /// The key set's URL.
    pub fn url(&self) -> &str {
        self.url.as_str()
    }

    /// The `kid`s cached now.
    pub fn cached_kids(&self) -> Vec<String> {
        self.read(|state| state.keys.keys().cloned().collect())
    }

    /// The key named `kid`: from a fresh cache, else after a fetch if the
    /// policy allows one now. A stale key is still served when the fetch
    /// fails or must wait; a key the last successful fetch no longer
    /// listed is not.
    pub async fn key(&self, kid: &str) -> Result<DecodingKey, JwksError> {
        if let (Some(key), true) = self.cached(kid) {
            return Ok(key);
        }
        let _one_at_a_time = self.fetching.lock().await;
        // Another verification may have fetched while this one waited.
        let (known, fresh) = self.cached(kid);
        if let (Some(key), true) = (&known, fresh) {
            return Ok(key.clone());
        }
        if self.take_on_demand_fetch() {
            match self.fetch().await {
                Ok(_) => return self.cached(kid).0.ok_or_else(|| JwksError::UnknownKid(kid.to_owned())),
                Err(e) if known.is_none() => return Err(e),
                Err(e) => tracing::warn!(error = %e, "JWKS refresh failed; serving the cached key"),
            }
        }
        known.ok_or_else(|| JwksError::UnknownKid(kid.to_owned()))
    }

    /// Fetches the key set now, whatever the cache holds (at start-up, to
    /// fail early on a wrong URL or key set), and returns how many usable
    /// keys it has. On failure the cache is kept.
    pub async fn refresh(&self) -> Result<usize, JwksError> {
        let _one_at_a_time = self.fetching.lock().await;
        self.fetch().await
    }

    /// Keeps the set fresh until the returned handle is aborted, the cache
    /// dropped or the runtime stopped: fetched at four fifths of its
    /// lifetime, and again after [`JwksPolicy::retry_after_failure`] when a
    /// fetch fails.
    pub fn spawn_background_refresh(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        // A weak reference, so a dropped cache ends the task.
        let this = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let Some(cache) = this.upgrade() else { return };
                let wait = cache.read(|state| state.refresh_at.saturating_duration_since(Instant::now()));
                drop(cache);
                tokio::time::sleep(wait).await;
                let Some(cache) = this.upgrade() else { return };
                if let Err(e) = cache.refresh().await {
                    tracing::warn!(error = %e, "JWKS refresh failed; serving cached keys");
                    let retry_at = Instant::now() + cache.policy.retry_after_failure;
                    cache.write(|state| state.refresh_at = retry_at);
                }
            }
        })
    }

    /// The cached key for `kid`, and whether the cache is fresh.
    fn cached(&self, kid: &str) -> (Option<DecodingKey>, bool) {
        self.read(|state| {
            let fresh = state.fresh_until.is_some_and(|until| Instant::now() < until);
            (state.keys.get(kid).cloned(), fresh)
        })
    }

    /// Whether a verification may fetch now; if so, counts the fetch.
    fn take_on_demand_fetch(&self) -> bool {
        let now = Instant::now();
        self.write(|state| {
            let allowed =
                state.last_on_demand.is_none_or(|at| now.duration_since(at) >= self.policy.min_refresh_interval);
            if allowed {
                state.last_on_demand = Some(now);
            }
            allowed
        })
    }

    fn read<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        // A poisoned lock only means a writer panicked mid-swap; the state
        // it holds is still whole.
        match self.state.read() {
            Ok(state) => f(&state),
            Err(poisoned) => f(&poisoned.into_inner()),
        }
    }

    fn write<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        match self.state.write() {
            Ok(mut state) => f(&mut state),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    /// Fetches the key set and replaces the cached keys with it; callers
    /// hold `fetching`.
    async fn fetch(&self) -> Result<usize, JwksError> {
        let failed = |reason: String| JwksError::Fetch { url: self.url.to_string(), reason };
        let request = self.http.get(self.url.clone());
        let response = match &self.transport {
            Some(transport) => transport.send(request, &self.url).await,
            None => request.send().await,
        };
        let mut response = response.map_err(|e| failed(e.to_string()))?;
        if !response.status().is_success() {
            return Err(failed(format!("answered {}", response.status())));
        }
        let max_age = response
            .headers()
            .get(CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .and_then(cache_control::max_age)
            .unwrap_or(self.policy.default_max_age)
            .min(self.policy.max_max_age)
            .max(self.policy.min_max_age);
        let body = read_capped(&mut response, MAX_BODY_BYTES).await.map_err(|e| failed(format!("the key set: {e}")))?;
        let document: Document = serde_json::from_slice(&body).map_err(|e| failed(e.to_string()))?;
        if let Some(expected) = self.policy.key_set
            && document.key_set != Some(expected)
        {
            let found = document.key_set.map_or_else(|| "unmarked".to_owned(), |set| set.to_string());
            return Err(JwksError::WrongKeySet { url: self.url.to_string(), found, expected });
        }
        let keys: HashMap<String, DecodingKey> = document.keys.into_iter().filter_map(JwkMembers::rs256).collect();
        let count = keys.len();
        let now = Instant::now();
        self.write(|state| {
            state.keys = keys;
            state.fresh_until = Some(now + max_age);
            state.refresh_at = now + max_age.mul_f64(0.8);
        });
        tracing::debug!(url = %self.url, keys = count, ?max_age, "JWKS fetched");
        Ok(count)
    }
}

/// Why [`read_capped`] read no body.
#[derive(Debug, thiserror::Error)]
pub enum CappedBodyError {
    /// The body passed this many bytes.
    #[error("larger than {0} bytes")]
    TooLarge(usize),
    /// Reading it failed.
    #[error(transparent)]
    Read(#[from] reqwest::Error),
}

/// The whole body of `response`, refused once it passes `max` bytes: a
/// document fetched from another service (a key set, a revocation list) is
/// never read unbounded.
pub async fn read_capped(response: &mut reqwest::Response, max: usize) -> Result<Vec<u8>, CappedBodyError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > max {
            return Err(CappedBodyError::TooLarge(max));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
