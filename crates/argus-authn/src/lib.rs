//! Bearer-token verification for every service that takes access tokens.
//!
//! A [`TokenVerifier`] checks an RS256 JWT against keys from a [`KeySource`]
//! (the auth-service's own key ring, or a JWKS fetched over HTTP) with an
//! explicit algorithm, issuer, audience, expiry and `typ`. The
//! [`Principal`] extractor hands handlers the verified caller; [`Scoped`]
//! additionally demands a scope.

mod error;
mod extract;
pub mod jwks;
pub mod published;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use argus_store::revoked::RevokedTokens;
use argus_types::AccessClaims;
use argus_types::claims::ACCESS_TOKEN_TYP;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

pub use argus_jwks::{JwksCache, JwksError, JwksPolicy};
pub use error::AuthnError;
pub use extract::{
    DevicesRead, DevicesWrite, EpcrRead, EpcrWrite, EvidenceRead, EvidenceVerify, JobsRead, JobsWrite, PlatformAdmin,
    Principal, RequiredScope, SCENARIO_HEADER, ScenarioTenants, SchemasRead, Scoped, SharedScenarioTenants,
    TENANT_HEADER, TenantScoped, TracesRead, WebhooksRead, WebhooksWrite, bearer_token, requested_scenario,
};
pub use jwks::remote_jwks;
pub use published::{PublishedOptions, PublishedRevocations};

/// Where verification keys come from, by `kid`.
pub trait KeySource: Send + Sync + 'static {
    /// The key with this `kid`, or `None` if the source does not know it
    /// (after whatever refresh the source allows itself).
    fn decoding_key<'a>(&'a self, kid: &'a str) -> Pin<Box<dyn Future<Output = Option<DecodingKey>> + Send + 'a>>;
}

/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECONDS: u64 = 30;

#[derive(Clone)]
pub struct TokenVerifier {
    keys: Arc<dyn KeySource>,
    validation: Validation,
    revoked: Option<Revocations>,
    tenants: Option<Arc<ProvisionedTenants>>,
}

/// Where a verifier learns which tokens were revoked.
#[derive(Clone)]
enum Revocations {
    /// The database's set, followed by a listener (live, and the
    /// auth-service).
    Listened(Arc<RevokedTokens>),
    /// The auth-service's published list of sandbox revocations (the
    /// sandbox API, which never reads the live database).
    Published(Arc<PublishedRevocations>),
}

/// The tenants a sandbox API has made sure exist in its own database (see
/// `Store::ensure_tenant`), so each costs one insert per process.
pub struct ProvisionedTenants {
    store: argus_store::Store,
    seen: std::sync::Mutex<std::collections::HashSet<argus_types::TenantId>>,
}

/// At most this many tenants are remembered; past it the set starts over
/// (an insert that finds the tenant is cheap).
const PROVISIONED_TENANTS_MAX: usize = 100_000;

impl ProvisionedTenants {
    pub fn new(store: argus_store::Store) -> Arc<Self> {
        Arc::new(Self { store, seen: std::sync::Mutex::new(std::collections::HashSet::new()) })
    }

    async fn ensure(&self, tenant: &argus_types::TenantId) -> Result<(), AuthnError> {
        if self.seen.lock().is_ok_and(|seen| seen.contains(tenant)) {
            return Ok(());
        }
        self.store.ensure_tenant(tenant, "sandbox").await.map_err(|e| {
            tracing::error!(error = %e, "cannot provision a sandbox tenant");
            AuthnError::TenantUnavailable
        })?;
        if let Ok(mut seen) = self.seen.lock() {
            if seen.len() >= PROVISIONED_TENANTS_MAX {
                seen.clear();
            }
            seen.insert(tenant.clone());
        }
        Ok(())
    }
}

impl TokenVerifier {
    pub fn new(keys: Arc<dyn KeySource>, issuer: &str, audience: &str) -> Self {
        Self::for_audiences(keys, issuer, &[audience])
    }

    /// A verifier that accepts any of `audiences` (introspection, which
    /// answers for live and sandbox tokens alike).
    pub fn for_audiences(keys: Arc<dyn KeySource>, issuer: &str, audiences: &[&str]) -> Self {
        let mut validation = Validation::new(Algorithm::RS256);
        validation.algorithms = vec![Algorithm::RS256];
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_issuer(&[issuer]);
        validation.set_audience(audiences);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        Self { keys, validation, revoked: None, tenants: None }
    }

    /// Makes sure the tenant of every token it verifies exists in the
    /// database, empty if new: the sandbox API's, whose database has no
    /// tenants but the ones its tokens name.
    pub fn with_provisioned_tenants(mut self, tenants: Arc<ProvisionedTenants>) -> Self {
        self.tenants = Some(tenants);
        self
    }

    /// Refuses tokens in `revoked`. Every resource server sets it; only a
    /// verifier of tokens no one can revoke (a test of key handling) goes
    /// without.
    pub fn with_revocations(mut self, revoked: Arc<RevokedTokens>) -> Self {
        self.revoked = Some(Revocations::Listened(revoked));
        self
    }

    /// Refuses tokens the auth-service's published list names: the sandbox
    /// API's revocations.
    pub fn with_published_revocations(mut self, published: Arc<PublishedRevocations>) -> Self {
        self.revoked = Some(Revocations::Published(published));
        self
    }

    /// Verifies `token` and returns its claims.
    pub async fn verify(&self, token: &str) -> Result<AccessClaims, AuthnError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthnError::Malformed)?;
        if header.alg != Algorithm::RS256 {
            return Err(AuthnError::Algorithm);
        }
        // RFC 9068 §4: the `typ` must say this is an access token.
        let typ_ok = header
            .typ
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case(ACCESS_TOKEN_TYP) || t.eq_ignore_ascii_case("application/at+jwt"));
        if !typ_ok {
            return Err(AuthnError::NotAnAccessToken);
        }
        let kid = header.kid.ok_or(AuthnError::UnknownKey)?;
        let key = self.keys.decoding_key(&kid).await.ok_or(AuthnError::UnknownKey)?;
        let data = jsonwebtoken::decode::<AccessClaims>(token, &key, &self.validation).map_err(AuthnError::from_jwt)?;
        self.ensure_not_revoked(&data.claims).await?;
        if let Some(tenants) = &self.tenants {
            tenants.ensure(&data.claims.tid).await?;
        }
        Ok(data.claims)
    }

    /// Refuses claims whose token was revoked; for callers that keep
    /// verified claims and must check them again on each use.
    pub async fn ensure_not_revoked(&self, claims: &AccessClaims) -> Result<(), AuthnError> {
        let revoked = match &self.revoked {
            None => return Ok(()),
            Some(Revocations::Listened(set)) => set.is_revoked(&claims.jti).await.map_err(|e| {
                // Fail closed: a token that may be revoked is not served.
                tracing::error!(error = %e, "cannot tell whether a token was revoked");
                AuthnError::RevocationUnknown
            })?,
            // Fails closed too, once the list is stale.
            Some(Revocations::Published(list)) => list.is_revoked(&claims.jti).await?,
        };
        if revoked { Err(AuthnError::Revoked) } else { Ok(()) }
    }
}
