use std::sync::Arc;

use argus_authn::TokenVerifier;
use argus_crypto::SecretHasher;
use argus_store::Store;
use argus_store::oauth::SignInLockout;
use argus_store::revoked::RevokedTokens;
use chrono::Duration;

use crate::keyring::KeyRing;
use crate::oauth::{ClientCache, PasswordChecks, TokenIssuer};
use crate::ratelimit::RateLimits;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    /// The live key set: signs live tokens, published at
    /// `/.well-known/jwks.json`.
    pub keys: Arc<KeyRing>,
    /// The sandbox key set: signs sandbox tokens only, published at
    /// `/.well-known/sandbox/jwks.json`.
    pub sandbox_keys: Arc<KeyRing>,
    pub secrets: SecretHasher,
    pub tokens: TokenIssuer,
    /// Clients authenticated at the token endpoints, kept in memory.
    pub clients: ClientCache,
    pub limits: Arc<RateLimits>,
    /// The bounded pool sign-in's password checks run in.
    pub passwords: PasswordChecks,
    pub lockout: SignInLockout,
    /// Verifies tokens of any Argus audience (live and sandbox), for
    /// revocation and introspection.
    pub any_audience: TokenVerifier,
    /// The revoked access tokens, which every verifier here refuses.
    pub revoked: Arc<RevokedTokens>,
    pub session_ttl: Duration,
    /// Cookies get `Secure` when the issuer is served over https.
    pub secure_cookies: bool,
}
