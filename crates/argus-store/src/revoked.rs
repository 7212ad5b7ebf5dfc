//! The access tokens revoked before they expire (RFC 7009 revocation, grant
//! families revoked for replay, `argusctl token revoke`), as a set every
//! replica of every resource server keeps in memory, so a revoked token is
//! refused everywhere without a query per request.
//!
//! A trigger notifies `argus_token_revoked` with each new row; the set is
//! loaded whole when its listener connects (after `LISTEN`, so nothing falls
//! between the load and the first notice). While the listener is down the
//! set is not trusted: every check asks the database. Entries are dropped
//! once their token would have expired anyway.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use argus_types::Environment;
use chrono::{DateTime, Utc};

use crate::listen::{Follower, follow};
use crate::schema::revoked_access_tokens;
use crate::{Store, StoreError};

/// The channel the `revoked_access_tokens` trigger notifies with
/// `<expiry as unix seconds> <jti>`.
pub const REVOKED_CHANNEL: &str = "argus_token_revoked";

/// An access token revoked before it expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedToken {
    pub jti: String,
    pub expires_at: DateTime<Utc>,
}

pub struct RevokedTokens {
    store: Store,
    /// jti → expiry (unix seconds).
    jtis: RwLock<HashMap<Box<str>, i64>>,
    listening: AtomicBool,
}

impl RevokedTokens {
    /// A set fed by its listener (connected as `application_name`), which
    /// runs on the current runtime until the set is dropped.
    pub fn listening(store: Store, database_url: String, application_name: &'static str) -> Arc<Self> {
        let set = Arc::new(Self { store, jtis: RwLock::new(HashMap::new()), listening: AtomicBool::new(false) });
        tokio::spawn(follow(Arc::downgrade(&set), database_url, REVOKED_CHANNEL, application_name));
        set
    }

    /// Whether the token `jti` was revoked: from memory while the listener
    /// is connected, else from the database.
    pub async fn is_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        if self.listening.load(Ordering::Acquire) {
            return Ok(self.jtis.read().unwrap_or_else(PoisonError::into_inner).contains_key(jti));
        }
        self.store.access_token_revoked(jti).await
    }

    /// Revokes `jti`, a token of `environment`, until `expires_at`, and
    /// knows it at once in this process (other replicas follow with the
    /// notice, the sandbox API with the published list).
    pub async fn revoke(
        &self,
        jti: &str,
        expires_at: DateTime<Utc>,
        environment: Environment,
    ) -> Result<(), StoreError> {
        self.store.revoke_access_token(jti, expires_at, environment).await?;
        self.remember(&[RevokedToken { jti: jti.to_owned(), expires_at }]);
        Ok(())
    }

    /// Knows at once in this process what it revoked through the store
    /// (a grant family); other replicas follow with the notices.
    pub fn remember(&self, revoked: &[RevokedToken]) {
        let mut jtis = self.jtis.write().unwrap_or_else(PoisonError::into_inner);
        for token in revoked {
            jtis.insert(token.jti.as_str().into(), token.expires_at.timestamp());
        }
    }

    fn prune(&self) {
        let now = Utc::now().timestamp();
        self.jtis.write().unwrap_or_else(PoisonError::into_inner).retain(|_, exp| *exp > now);
    }
}

impl Follower for RevokedTokens {
    async fn connected(&self) -> Result<(), StoreError> {
        let loaded = self.store.unexpired_revocations().await?;
        let mut jtis = self.jtis.write().unwrap_or_else(PoisonError::into_inner);
        *jtis = loaded.into_iter().map(|(jti, exp)| (jti.into_boxed_str(), exp.timestamp())).collect();
        self.listening.store(true, Ordering::Release);
        Ok(())
    }

    fn notified(&self, payloads: Vec<String>) {
        let mut jtis = self.jtis.write().unwrap_or_else(PoisonError::into_inner);
        for payload in payloads {
            match payload.split_once(' ').and_then(|(exp, jti)| Some((exp.parse::<i64>().ok()?, jti))) {
                Some((exp, jti)) => {
                    jtis.insert(jti.into(), exp);
                }
                // Not ours to read: trust nothing until reloaded.
                None => {
                    drop(jtis);
                    self.listening.store(false, Ordering::Release);
                    tracing::error!(%payload, "unreadable revocation notice; checking the database until reconnected");
                    return;
                }
            }
        }
    }

    fn quiet(&self) {
        self.prune();
    }

    fn lost(&self) {
        self.listening.store(false, Ordering::Release);
        self.jtis.write().unwrap_or_else(PoisonError::into_inner).clear();
    }
}

impl Store {
    /// Every revoked token that has not expired yet.
    pub async fn unexpired_revocations(&self) -> Result<Vec<(String, DateTime<Utc>)>, StoreError> {
        // Here only: diesel's `load` would shadow the atomics' above.
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        let mut conn = self.conn().await?;
        Ok(revoked_access_tokens::table
            .filter(revoked_access_tokens::expires_at.gt(Utc::now()))
            .select((revoked_access_tokens::jti, revoked_access_tokens::expires_at))
            .load(&mut conn)
            .await?)
    }

    /// The unexpired revocations of `environment`'s tokens, by jti: what
    /// the auth-service publishes for the sandbox API.
    pub async fn unexpired_revocations_of(&self, environment: Environment) -> Result<Vec<RevokedToken>, StoreError> {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        let mut conn = self.conn().await?;
        let rows: Vec<(String, DateTime<Utc>)> = revoked_access_tokens::table
            .filter(revoked_access_tokens::environment.eq(environment.as_str()))
            .filter(revoked_access_tokens::expires_at.gt(Utc::now()))
            .order(revoked_access_tokens::jti)
            .select((revoked_access_tokens::jti, revoked_access_tokens::expires_at))
            .load(&mut conn)
            .await?;
        Ok(rows.into_iter().map(|(jti, expires_at)| RevokedToken { jti, expires_at }).collect())
    }
}
