//! Minting access tokens (RS256, RFC 9068) and opaque refresh tokens.

use std::sync::Arc;

use argus_crypto::{IssuedToken, SecretHasher, TokenGrant, issue_access_token};
use argus_store::Store;
use argus_store::apps::AppRecord;
use argus_store::oauth::RefreshGrant;
use argus_types::{Environment, GrantId, ScopeSet, TenantId};
use chrono::Duration;

use crate::error::ApiError;
use crate::keyring::KeyRing;

pub const REFRESH_TOKEN_PREFIX: &str = "rt_";

#[derive(Clone)]
pub struct TokenIssuer {
    /// Signs live tokens.
    pub keys: Arc<KeyRing>,
    /// Signs sandbox tokens, and nothing else.
    pub sandbox_keys: Arc<KeyRing>,
    pub issuer: String,
    /// The live audience.
    pub audience: String,
    pub default_ttl: Duration,
    pub refresh_ttl: Duration,
}

impl TokenIssuer {
    /// The lifetime a token for `app` may have: the configured default,
    /// capped by the app's governance, capped by `requested` if given.
    pub fn lifetime_for(&self, app: &AppRecord, requested: Option<Duration>) -> Duration {
        let cap = Duration::seconds(i64::from(app.governance.max_token_lifetime_seconds));
        let base = requested.unwrap_or(self.default_ttl).min(cap);
        base.max(Duration::seconds(1))
    }

    pub fn access_token(
        &self,
        tenant: &TenantId,
        subject: &str,
        client_id: &str,
        scopes: &ScopeSet,
        lifetime: Duration,
        environment: Environment,
    ) -> Result<IssuedToken, ApiError> {
        // The two gates follow from the environment together: the sandbox
        // audience only ever with a sandbox key, the live one with a live key.
        let (key, audience) = match environment {
            Environment::Live => (self.keys.current()?, self.audience.as_str()),
            Environment::Sandbox => (self.sandbox_keys.current()?, Environment::Sandbox.audience()),
        };
        issue_access_token(
            &key,
            &TokenGrant { issuer: &self.issuer, audience, tenant, subject, client_id, scopes, lifetime },
        )
        .map_err(|e| ApiError::Internal(format!("signing: {e}")))
    }

    /// A token an app holds as itself (client credentials, service and
    /// sandbox tokens): the app is the subject.
    pub fn app_token(
        &self,
        app: &AppRecord,
        scopes: &ScopeSet,
        lifetime: Duration,
        environment: Environment,
    ) -> Result<IssuedToken, ApiError> {
        let client = app.client_id.as_str();
        self.access_token(&app.tenant_id, client, client, scopes, lifetime, environment)
    }

    /// A new refresh token in `family`; only its keyed hash is stored.
    pub async fn refresh_token(
        &self,
        store: &Store,
        hasher: &SecretHasher,
        grant: &RefreshGrant,
    ) -> Result<String, ApiError> {
        let token = argus_crypto::generate_secret(REFRESH_TOKEN_PREFIX);
        store.store_refresh_token(hasher.hash(&token), grant, self.refresh_ttl).await?;
        Ok(token)
    }

    /// Records an access token under its grant family so revoking the family
    /// revokes it too.
    pub async fn remember(&self, store: &Store, issued: &IssuedToken, family: &GrantId) -> Result<(), ApiError> {
        store.record_issued_access_token(&issued.claims.jti, family, issued.expires_at).await?;
        Ok(())
    }
}
