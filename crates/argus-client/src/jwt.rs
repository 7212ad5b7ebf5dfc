//! Access-token verification with only the public JWKS.
//!
//! [`JwtVerifier`] keeps the key set in an [`argus_jwks::JwksCache`], the
//! cache the Argus services verify with too: it refreshes the set when its
//! `Cache-Control: max-age` runs out and when a token names a `kid` it does
//! not hold (at most once per [`JwksPolicy::min_refresh_interval`], so
//! tokens with made-up `kid`s cannot turn into a flood of JWKS requests),
//! and keeps serving the keys it knows while the JWKS cannot be fetched.
//! The auth-service publishes the next signing key before it signs with it,
//! so a rotation normally needs no refresh at all; two rotations inside one
//! cache lifetime are caught by the unknown-`kid` refresh.
//!
//! An `https` JWKS is checked against the platform's root certificates
//! (feature `rustls`). To trust another root as well (a private CA in
//! front of a test stack), build the HTTP client with it and pass it to
//! [`JwtVerifier::with_policy`]:
//!
//! ```no_run
//! # fn run(ca_pem: &[u8]) -> Result<(), Box<dyn std::error::Error>> {
//! use argus_client::{JwksPolicy, JwtVerifier};
//!
//! let http = reqwest::Client::builder()
//!     .tls_certs_merge([reqwest::Certificate::from_pem(ca_pem)?])
//!     .build()?;
//! let verifier = JwtVerifier::with_policy(
//!     "https://auth.staging.example/.well-known/jwks.json",
//!     "https://auth.staging.example",
//!     argus_client::jwt::LIVE_AUDIENCE,
//!     JwksPolicy::default(),
//!     http,
//! )?;
//! # Ok(()) }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use argus_jwks::{JwksCache, JwksError, JwksTransport};
use jsonwebtoken::{Algorithm, Validation};

pub use argus_jwks::JwksPolicy;
pub use argus_types::AccessClaims;
pub use argus_types::claims::{ACCESS_TOKEN_TYP, LIVE_AUDIENCE, SANDBOX_AUDIENCE};

use crate::error::{Error, Result};

struct Inner {
    keys: JwksCache,
    validation: Validation,
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
    /// [`JwksPolicy`]. `jwks_url` must be `https`, or `http` to this machine
    /// only (`localhost`, `127.0.0.1`, `[::1]`): keys fetched over plain
    /// http across a network could be swapped for an attacker's, who could
    /// then sign tokens the verifier accepts.
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
        crate::transport::require_private_http(
            jwks_url,
            "JWKS URL",
            "keys fetched over plain http can be replaced on the way",
        )?;
        let keys = JwksCache::new(jwks_url, policy, http)
            .map_err(|e| Error::Config(e.to_string()))?
            .with_transport(Arc::new(CallersTrace));
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        Ok(Self { inner: Arc::new(Inner { keys, validation }) })
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
        let key = self.inner.keys.key(&kid).await.map_err(jwks_error)?;
        jsonwebtoken::decode::<AccessClaims>(token, &key, &self.inner.validation)
            .map(|data| data.claims)
            .map_err(|e| Error::Token(e.to_string()))
    }

    /// Fetches the key set now, whatever the cache holds (say, at start-up,
    /// to fail early on a wrong URL).
    pub async fn refresh(&self) -> Result<()> {
        self.inner.keys.refresh().await.map(drop).map_err(jwks_error)
    }
}

/// Sends each fetch of the key set with the caller's `traceparent` (with
/// the `opentelemetry` feature), like every other call of the SDK.
struct CallersTrace;

impl JwksTransport for CallersTrace {
    fn send<'a>(
        &'a self,
        request: reqwest::RequestBuilder,
        _url: &'a url::Url,
    ) -> Pin<Box<dyn Future<Output = reqwest::Result<reqwest::Response>> + Send + 'a>> {
        let mut headers = reqwest::header::HeaderMap::new();
        crate::client::inject_trace_context(&mut headers);
        Box::pin(request.headers(headers).send())
    }
}

/// A token naming a key the set lacks is the token's fault; anything else
/// is the JWKS's.
fn jwks_error(e: JwksError) -> Error {
    match e {
        JwksError::UnknownKid(_) => Error::Token(e.to_string()),
        _ => Error::Jwks(e.to_string()),
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
