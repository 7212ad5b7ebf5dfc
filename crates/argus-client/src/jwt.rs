//! Access-token verification with only the public JWKS.
//!
//! [`JwtVerifier`] keeps the key set in memory and refreshes it when its
//! `Cache-Control: max-age` runs out and when a token names a `kid` it does
//! not hold (at most once per [`JwksPolicy::min_refresh_interval`], so
//! tokens with made-up `kid`s cannot turn into a flood of JWKS requests).
//! The auth-service publishes the next signing key before it signs with it,
//! so a rotation normally needs no refresh at all; two rotations inside one
//! cache lifetime are caught by the unknown-`kid` refresh.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::header::CACHE_CONTROL;

pub use argus_types::AccessClaims;
pub use argus_types::claims::{ACCESS_TOKEN_TYP, LIVE_AUDIENCE, SANDBOX_AUDIENCE};

use crate::error::{Error, Result};

/// How the verifier caches the JWKS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JwksPolicy {
    /// How long a key set is used when its response carries no `max-age`.
    pub default_max_age: Duration,
    /// The longest a key set is used, whatever its `max-age` says.
    pub max_max_age: Duration,
    /// The shortest time between two refreshes an unknown `kid` triggers.
    pub min_refresh_interval: Duration,
}

impl Default for JwksPolicy {
    fn default() -> Self {
        Self {
            default_max_age: Duration::from_secs(300),
            max_max_age: Duration::from_secs(86_400),
            min_refresh_interval: Duration::from_secs(10),
        }
    }
}

/// The key set in memory and when it was fetched.
#[derive(Default)]
struct Cache {
    keys: HashMap<String, Arc<DecodingKey>>,
    /// When the keys stop being fresh; `None` before the first fetch.
    fresh_until: Option<Instant>,
    /// The last fetch, for the unknown-`kid` rate limit.
    fetched_at: Option<Instant>,
}

struct Inner {
    http: reqwest::Client,
    jwks_url: String,
    validation: Validation,
    policy: JwksPolicy,
    cache: RwLock<Cache>,
    /// One fetch at a time: concurrent verifications wait for it.
    fetching: tokio::sync::Mutex<()>,
}

/// Verifies Argus access tokens (RFC 9068 `at+jwt`, RS256) against the
/// auth-service's JWKS: signature, `iss`, `aud`, `exp` and `nbf` (60 s of
/// leeway), and the `typ` header. Cheap to clone; share one per process.
///
/// ```no_run
/// # async fn run() -> argus_client::Result<()> {
/// use argus_client::JwtVerifier;
///
/// let verifier = JwtVerifier::new(
///     "https://auth.knogin.com/.well-known/jwks.json",
///     "https://auth.knogin.com",
///     argus_client::jwt::LIVE_AUDIENCE,
/// )?;
/// let claims = verifier.verify("eyJ…").await?;
/// println!("tenant {} client {} scopes {}", claims.tid, claims.client_id, claims.scope);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct JwtVerifier {
    inner: Arc<Inner>,
}

impl JwtVerifier {
    /// A verifier for tokens of `issuer` meant for `audience`, with keys
    /// from `jwks_url` (fetched on the first verification) and the default
    /// [`JwksPolicy`].
    pub fn new(jwks_url: &str, issuer: &str, audience: &str) -> Result<Self> {
        Self::with_policy(jwks_url, issuer, audience, JwksPolicy::default(), default_http()?)
    }

    /// Like [`JwtVerifier::new`], with a cache policy and an HTTP client of
    /// the caller's (its timeouts, proxy, TLS roots).
    pub fn with_policy(
        jwks_url: &str,
        issuer: &str,
        audience: &str,
        policy: JwksPolicy,
        http: reqwest::Client,
    ) -> Result<Self> {
        url::Url::parse(jwks_url).map_err(|e| Error::Config(format!("JWKS URL `{jwks_url}`: {e}")))?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                jwks_url: jwks_url.to_owned(),
                validation,
                policy,
                cache: RwLock::new(Cache::default()),
                fetching: tokio::sync::Mutex::new(()),
            }),
        })
    }

    /// The token's claims, if it verifies.
    pub async fn verify(&self, token: &str) -> Result<AccessClaims> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| Error::Token(e.to_string()))?;
        // RFC 9068 §4: `at+jwt`, or its media type spelled out.
        let typ = header.typ.as_deref().unwrap_or_default().to_ascii_lowercase();
        if typ != ACCESS_TOKEN_TYP && typ != "application/at+jwt" {
            return Err(Error::Token("typ is not at+jwt".into()));
        }
        let kid = header.kid.ok_or_else(|| Error::Token("the header has no kid".into()))?;
        let key = self.key(&kid).await?;
        jsonwebtoken::decode::<AccessClaims>(token, &key, &self.inner.validation)
            .map(|data| data.claims)
            .map_err(|e| Error::Token(e.to_string()))
    }

    /// Fetches the key set now, whatever the cache holds (say, at start-up,
    /// to fail early on a wrong URL).
    pub async fn refresh(&self) -> Result<()> {
        let _one_at_a_time = self.inner.fetching.lock().await;
        self.fetch().await
    }

    /// The key for `kid`: from a fresh cache, else after a refresh (once
    /// per `min_refresh_interval` when the `kid` is unknown).
    async fn key(&self, kid: &str) -> Result<Arc<DecodingKey>> {
        let (known, fresh) = self.cached(kid);
        if let (Some(key), true) = (&known, fresh) {
            return Ok(key.clone());
        }
        let _one_at_a_time = self.inner.fetching.lock().await;
        // Another verification may have refreshed while this one waited.
        let (known, fresh) = self.cached(kid);
        match known {
            Some(key) if fresh => return Ok(key),
            Some(key) => {
                // Stale: refresh, but a JWKS outage must not stop tokens
                // signed with a key already known from verifying.
                return Ok(match self.fetch().await {
                    Ok(()) => self.cached(kid).0.unwrap_or(key),
                    Err(_) => key,
                });
            }
            None if self.may_refresh_for_unknown_kid() => self.fetch().await?,
            None => {}
        }
        self.cached(kid).0.ok_or_else(|| Error::Token(format!("kid `{kid}` is not in the JWKS")))
    }

    /// The cached key for `kid`, and whether the cache is fresh.
    fn cached(&self, kid: &str) -> (Option<Arc<DecodingKey>>, bool) {
        let Ok(cache) = self.inner.cache.read() else { return (None, false) };
        let fresh = cache.fresh_until.is_some_and(|until| Instant::now() < until);
        (cache.keys.get(kid).cloned(), fresh)
    }

    fn may_refresh_for_unknown_kid(&self) -> bool {
        let Ok(cache) = self.inner.cache.read() else { return false };
        cache.fetched_at.is_none_or(|at| at.elapsed() >= self.inner.policy.min_refresh_interval)
    }

    /// Fetches the key set and replaces the cache with it.
    async fn fetch(&self) -> Result<()> {
        let policy = &self.inner.policy;
        let response = self.inner.http.get(&self.inner.jwks_url).send().await;
        // A failed fetch counts for the rate limit too.
        let mark_fetched = || {
            if let Ok(mut cache) = self.inner.cache.write() {
                cache.fetched_at = Some(Instant::now());
            }
        };
        let response = match response.and_then(reqwest::Response::error_for_status) {
            Ok(r) => r,
            Err(e) => {
                mark_fetched();
                return Err(Error::Jwks(e.to_string()));
            }
        };
        let max_age = response
            .headers()
            .get(CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .and_then(argus_types::cache_control::max_age)
            .unwrap_or(policy.default_max_age)
            .min(policy.max_max_age)
            // `no-store` must not mean a fetch per token.
            .max(policy.min_refresh_interval);
        let set: JwkSet = match response.json().await {
            Ok(set) => set,
            Err(e) => {
                mark_fetched();
                return Err(Error::Jwks(e.to_string()));
            }
        };
        // Keys this verifier cannot use (another algorithm, no kid) are skipped.
        let keys = set
            .keys
            .iter()
            .filter_map(|jwk| Some((jwk.common.key_id.clone()?, Arc::new(DecodingKey::from_jwk(jwk).ok()?))))
            .collect();
        let now = Instant::now();
        let mut cache = self.inner.cache.write().map_err(|_| Error::Jwks("the key cache lock is poisoned".into()))?;
        *cache = Cache { keys, fresh_until: Some(now + max_age), fetched_at: Some(now) };
        Ok(())
    }
}

/// The HTTP client of a verifier or an API client built without one: 10 s
/// to connect, 30 s per request.
pub(crate) fn default_http() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .user_agent(concat!("argus-client/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(Error::Transport)
}
