//! OAuth 2.0 at the auth-service: client credentials, authorization code
//! with PKCE, refresh, revocation and introspection.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::{ArgusClient, Call, Host};
use crate::error::Result;

/// The token endpoint's answer (RFC 6749 §5.1).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TokenResponse {
    /// The access token, an RFC 9068 JWT.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until it expires.
    pub expires_in: i64,
    /// The scopes granted, space-separated.
    pub scope: String,
    /// A refresh token, for apps with the `refresh_token` grant (each use
    /// returns the next; a refresh token used twice revokes its grant).
    #[serde(default)]
    pub refresh_token: Option<String>,
}

/// RFC 7662 introspection: whether a token is active, and its claims.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Introspection {
    /// Whether the token is active (the other fields only then).
    pub active: bool,
    /// The audience.
    #[serde(default)]
    pub aud: Option<String>,
    /// The app the token was issued to.
    #[serde(default)]
    pub client_id: Option<String>,
    /// Expiry, Unix seconds.
    #[serde(default)]
    pub exp: Option<i64>,
    /// Issue time, Unix seconds.
    #[serde(default)]
    pub iat: Option<i64>,
    /// The issuer.
    #[serde(default)]
    pub iss: Option<String>,
    /// The token's id.
    #[serde(default)]
    pub jti: Option<String>,
    /// The scopes, space-separated.
    #[serde(default)]
    pub scope: Option<String>,
    /// The subject: a user, or the app itself.
    #[serde(default)]
    pub sub: Option<String>,
    /// The tenant.
    #[serde(default)]
    pub tid: Option<String>,
    /// `access_token` or `refresh_token`.
    #[serde(default)]
    pub token_type: Option<String>,
}

/// A PKCE (RFC 7636) verifier and its S256 challenge. Written here from
/// `rand`, `sha2` and `base64` (already needed) rather than with the
/// `oauth2` crate, which would bring its own HTTP client and a dozen crates
/// for these ten lines.
#[derive(Clone)]
pub struct Pkce {
    verifier: String,
    challenge: String,
}

impl std::fmt::Debug for Pkce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkce").field("challenge", &self.challenge).finish_non_exhaustive()
    }
}

impl Pkce {
    /// A new verifier: 32 random bytes, base64url (43 characters, RFC 7636 §4.1).
    pub fn new() -> Self {
        Self::from_verifier(URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>()))
    }

    /// The pair for a verifier of the caller's (43 to 128 unreserved characters).
    pub fn from_verifier(verifier: String) -> Self {
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        Self { verifier, challenge }
    }

    /// The verifier: keep it until the code is exchanged, send it then.
    pub fn verifier(&self) -> &str {
        &self.verifier
    }

    /// The S256 challenge sent in the authorize URL.
    pub fn challenge(&self) -> &str {
        &self.challenge
    }
}

impl Default for Pkce {
    fn default() -> Self {
        Self::new()
    }
}

/// An authorization request, for [`ArgusClient::authorize_url`].
#[derive(Debug, Clone)]
pub struct AuthorizeRequest<'a> {
    /// The app's `client_id`.
    pub client_id: &'a str,
    /// One of the app's registered redirect URIs.
    pub redirect_uri: &'a str,
    /// The scopes asked for, space-separated.
    pub scope: &'a str,
    /// An unguessable value the callback must return unchanged (CSRF).
    pub state: &'a str,
    /// The PKCE pair; its verifier goes to [`ArgusClient::exchange_code`].
    pub pkce: &'a Pkce,
}

/// How an app authenticates at the token endpoint.
#[derive(Debug, Clone, Copy)]
pub enum ClientAuth<'a> {
    /// A confidential app: `client_secret_basic`.
    Secret {
        /// The app's `client_id`.
        client_id: &'a str,
        /// The app's `client_secret`.
        client_secret: &'a str,
    },
    /// A public app (PKCE only): its `client_id` in the form.
    Public {
        /// The app's `client_id`.
        client_id: &'a str,
    },
}

impl ArgusClient {
    /// `POST /v1/oauth/token` with `grant_type=client_credentials`. A
    /// client built with [`Credentials::ClientCredentials`](super::Credentials)
    /// calls this itself and caches the answer.
    pub async fn client_credentials_token(
        &self,
        client_id: &str,
        client_secret: &str,
        scope: Option<&str>,
    ) -> Result<TokenResponse> {
        self.mint_client_credentials(client_id, client_secret, scope).await
    }

    /// The client-credentials grant, sent without a bearer token of the
    /// client's own (so minting one never waits for one).
    pub(crate) async fn mint_client_credentials(
        &self,
        client_id: &str,
        client_secret: &str,
        scope: Option<&str>,
    ) -> Result<TokenResponse> {
        let mut form = vec![("grant_type", "client_credentials")];
        if let Some(scope) = scope {
            form.push(("scope", scope));
        }
        let call = with_client_auth(
            Call::post(Host::Auth, "/v1/oauth/token"),
            ClientAuth::Secret { client_id, client_secret },
            &form,
        );
        let bytes = self.send_with(&call, None).await?.bytes().await?;
        Ok(serde_json::from_slice(&bytes)?)
    }

    /// The URL to send the user's browser to (`GET /v1/oauth/authorize`,
    /// `response_type=code`, PKCE S256).
    pub fn authorize_url(&self, request: &AuthorizeRequest<'_>) -> Result<url::Url> {
        let mut url = url::Url::parse(&format!("{}/v1/oauth/authorize", self.auth_url()))
            .map_err(|e| crate::Error::Config(e.to_string()))?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", request.client_id)
            .append_pair("redirect_uri", request.redirect_uri)
            .append_pair("scope", request.scope)
            .append_pair("state", request.state)
            .append_pair("code_challenge", request.pkce.challenge())
            .append_pair("code_challenge_method", "S256");
        Ok(url)
    }

    /// `POST /v1/oauth/token` with `grant_type=authorization_code`: the
    /// `code` the callback received, the same `redirect_uri`, and the
    /// PKCE verifier.
    pub async fn exchange_code(
        &self,
        auth: ClientAuth<'_>,
        code: &str,
        redirect_uri: &str,
        code_verifier: &str,
    ) -> Result<TokenResponse> {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", code_verifier),
        ];
        self.token_call(auth, &form).await
    }

    /// `POST /v1/oauth/token` with `grant_type=refresh_token`; keep the
    /// answer's `refresh_token` for the next refresh.
    pub async fn refresh_token(
        &self,
        auth: ClientAuth<'_>,
        refresh_token: &str,
        scope: Option<&str>,
    ) -> Result<TokenResponse> {
        let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", refresh_token)];
        if let Some(scope) = scope {
            form.push(("scope", scope));
        }
        self.token_call(auth, &form).await
    }

    /// `POST /v1/oauth/revoke` (RFC 7009): an access or refresh token.
    pub async fn revoke_token(&self, auth: ClientAuth<'_>, token: &str) -> Result<()> {
        let call = with_client_auth(Call::post(Host::Auth, "/v1/oauth/revoke"), auth, &[("token", token)]);
        self.empty(&call).await
    }

    /// `POST /v1/oauth/introspect` (RFC 7662).
    pub async fn introspect_token(&self, auth: ClientAuth<'_>, token: &str) -> Result<Introspection> {
        let call = with_client_auth(Call::post(Host::Auth, "/v1/oauth/introspect"), auth, &[("token", token)]);
        self.json(&call).await
    }

    async fn token_call(&self, auth: ClientAuth<'_>, form: &[(&str, &str)]) -> Result<TokenResponse> {
        let call = with_client_auth(Call::post(Host::Auth, "/v1/oauth/token"), auth, form);
        self.json(&call).await
    }
}

/// `call` authenticated as the app, with `form` as its body.
fn with_client_auth(call: Call, auth: ClientAuth<'_>, form: &[(&str, &str)]) -> Call {
    let call = call.anonymous();
    match auth {
        ClientAuth::Secret { client_id, client_secret } => {
            // RFC 6749 §2.3.1: each part form-encoded before base64.
            let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            let basic = base64::engine::general_purpose::STANDARD.encode(format!(
                "{}:{}",
                encode(client_id),
                encode(client_secret)
            ));
            call.header(reqwest::header::AUTHORIZATION, format!("Basic {basic}")).form(form)
        }
        ClientAuth::Public { client_id } => {
            let mut fields = form.to_vec();
            fields.push(("client_id", client_id));
            call.form(&fields)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_matches_rfc_7636_appendix_b() {
        let pkce = Pkce::from_verifier("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into());
        assert_eq!(pkce.challenge(), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        let fresh = Pkce::new();
        assert_eq!(fresh.verifier().len(), 43);
        assert_ne!(fresh.verifier(), Pkce::new().verifier());
    }
}
