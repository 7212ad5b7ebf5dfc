//! The in-memory view of one key set's signing keys (live or sandbox: see
//! `argus_store::keys`): the current key signs, every live key verifies and
//! is published in the set's JWKS. Refreshed from the database in
//! the background, and on demand when a token names an unknown `kid` (at
//! most once per `MIN_ON_DEMAND_REFRESH`, so a flood of forged `kid`s cannot
//! flood the database).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use argus_authn::KeySource;
use argus_crypto::{JwkSet, KeySealer, SigningKey};
use argus_store::Store;
use argus_store::keys::KeyState;
use argus_types::Environment;
use jsonwebtoken::DecodingKey;

use crate::error::ApiError;

pub const BACKGROUND_REFRESH: Duration = Duration::from_secs(30);
const MIN_ON_DEMAND_REFRESH: Duration = Duration::from_secs(5);

#[derive(Default)]
struct Keys {
    current: Option<Arc<SigningKey>>,
    by_kid: HashMap<String, SigningKey>,
    jwks: JwkSet,
}

pub struct KeyRing {
    store: Store,
    /// Whose keys: live tokens' or sandbox tokens'.
    set: Environment,
    /// Opens the private keys stored sealed.
    sealer: KeySealer,
    keys: RwLock<Keys>,
    last_on_demand: Mutex<Option<Instant>>,
}

impl KeyRing {
    /// Loads the live keys of `set`, creating the first ones if the
    /// database has none and sealing any not sealed yet under `sealer`'s
    /// first key.
    pub async fn load(store: Store, sealer: KeySealer, set: Environment) -> Result<Arc<Self>, ApiError> {
        store.ensure_signing_keys(&sealer).await?;
        let keys = RwLock::new(Keys::default());
        let ring = Arc::new(Self { store, set, sealer, keys, last_on_demand: Mutex::new(None) });
        ring.refresh().await?;
        Ok(ring)
    }

    pub async fn refresh(&self) -> Result<(), ApiError> {
        let records = self.store.live_signing_keys(&self.sealer, self.set).await?;
        let mut fresh = Keys { jwks: JwkSet { keys: Vec::new(), key_set: Some(self.set) }, ..Keys::default() };
        for record in records {
            let key = SigningKey::from_pkcs8_pem(record.kid.as_str(), &record.private_key_pem)
                .map_err(|e| ApiError::Internal(format!("signing key {}: {e}", record.kid)))?;
            if record.state == KeyState::Current {
                fresh.current = Some(Arc::new(key.clone()));
            }
            fresh.jwks.keys.push(key.jwk().clone());
            fresh.by_kid.insert(record.kid.into(), key);
        }
        let mut keys = self.keys.write().map_err(|_| ApiError::Internal("key ring lock poisoned".into()))?;
        *keys = fresh;
        Ok(())
    }

    /// Refreshes every [`BACKGROUND_REFRESH`] until the process ends.
    pub fn spawn_background_refresh(self: &Arc<Self>) {
        let ring = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(BACKGROUND_REFRESH);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(ring) = ring.upgrade() else { break };
                if let Err(e) = ring.refresh().await {
                    tracing::warn!(error = %e, "signing key refresh failed; serving cached keys");
                }
            }
        });
    }

    /// The key that signs new tokens.
    pub fn current(&self) -> Result<Arc<SigningKey>, ApiError> {
        self.keys
            .read()
            .map_err(|_| ApiError::Internal("key ring lock poisoned".into()))?
            .current
            .clone()
            .ok_or_else(|| ApiError::Internal("no current signing key".into()))
    }

    pub fn jwks(&self) -> JwkSet {
        self.keys.read().map(|k| k.jwks.clone()).unwrap_or_default()
    }

    fn lookup(&self, kid: &str) -> Option<DecodingKey> {
        self.keys.read().ok()?.by_kid.get(kid).map(|k| k.decoding_key().clone())
    }

    fn may_refresh_on_demand(&self) -> bool {
        let Ok(mut last) = self.last_on_demand.lock() else { return false };
        let now = Instant::now();
        if last.is_some_and(|t| now.duration_since(t) < MIN_ON_DEMAND_REFRESH) {
            return false;
        }
        *last = Some(now);
        true
    }
}

impl KeySource for KeyRing {
    fn decoding_key<'a>(&'a self, kid: &'a str) -> Pin<Box<dyn Future<Output = Option<DecodingKey>> + Send + 'a>> {
        Box::pin(async move {
            if let Some(key) = self.lookup(kid) {
                return Some(key);
            }
            if self.may_refresh_on_demand() {
                if let Err(e) = self.refresh().await {
                    tracing::warn!(error = %e, "on-demand signing key refresh failed");
                }
                return self.lookup(kid);
            }
            None
        })
    }
}

/// Both key sets as one source: introspection and revocation answer for
/// live and sandbox tokens alike. Never a resource server's source.
pub struct EitherKeySet {
    pub live: Arc<KeyRing>,
    pub sandbox: Arc<KeyRing>,
}

impl KeySource for EitherKeySet {
    fn decoding_key<'a>(&'a self, kid: &'a str) -> Pin<Box<dyn Future<Output = Option<DecodingKey>> + Send + 'a>> {
        Box::pin(async move {
            match self.live.lookup(kid).or_else(|| self.sandbox.lookup(kid)) {
                Some(key) => Some(key),
                None => match self.live.decoding_key(kid).await {
                    Some(key) => Some(key),
                    None => self.sandbox.decoding_key(kid).await,
                },
            }
        })
    }
}
