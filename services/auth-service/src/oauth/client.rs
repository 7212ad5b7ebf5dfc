//! Client authentication at the token, revocation and introspection
//! endpoints (RFC 6749 §2.3): `client_secret_basic` or `client_secret_post`
//! for confidential clients, the bare `client_id` for public ones.

use actix_web::HttpRequest;
use actix_web::http::header;
use argus_crypto::SecretHasher;
use argus_store::apps::AppRecord;
use argus_types::ClientId;
use argus_types::app::ClientType;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::{ClientCache, OAuthError, Params};
use crate::state::AppState;

pub struct AuthenticatedClient {
    pub app: AppRecord,
    /// Proved possession of a secret (a public client cannot).
    pub confidential: bool,
}

/// RFC 6749 §2.3.1: Basic credentials are form-urlencoded before base64.
fn basic_credentials(req: &HttpRequest) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else { return Ok(None) };
    let value = value.to_str().map_err(|_| OAuthError::invalid_client())?;
    let Some((scheme, encoded)) = value.split_once(' ') else { return Err(OAuthError::invalid_client()) };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::invalid_client());
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| OAuthError::invalid_client())?;
    let decoded = String::from_utf8(decoded).map_err(|_| OAuthError::invalid_client())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(OAuthError::invalid_client)?;
    let unescape = |s: &str| {
        url::form_urlencoded::parse(format!("v={s}").as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default()
    };
    Ok(Some((unescape(id), unescape(secret))))
}

pub async fn authenticate_client(
    req: &HttpRequest,
    params: &Params,
    state: &AppState,
) -> Result<AuthenticatedClient, OAuthError> {
    let hasher: &SecretHasher = &state.secrets;
    let clients: &ClientCache = &state.clients;
    let (client_id, secret) = match basic_credentials(req)? {
        Some((id, secret)) => {
            if params.get("client_secret").is_some() {
                return Err(OAuthError::invalid_request("use one client authentication method, not two"));
            }
            if params.get("client_id").is_some_and(|p| p != id) {
                return Err(OAuthError::invalid_request("client_id does not match the Basic credentials"));
            }
            (id, Some(secret))
        }
        None => {
            let id = params.get("client_id").ok_or_else(OAuthError::invalid_client)?.to_owned();
            (id, params.get("client_secret").map(str::to_owned))
        }
    };
    let found = match client_id.parse::<ClientId>() {
        Ok(id) => clients.get(&state.store, &id).await?,
        Err(_) => None,
    };
    let Some(credentials) = found else {
        // Spend the same work as a real check, so timing does not tell
        // which client ids exist.
        if let Some(secret) = &secret {
            hasher.verify(secret, &[0u8; 32]);
        }
        return Err(OAuthError::invalid_client());
    };
    let app = credentials.app.clone();
    match (app.client_type, secret) {
        (ClientType::Confidential, Some(secret)) => {
            // Check every secret so timing does not tell which matched; a
            // rotated-out one counts until it expires.
            let now = chrono::Utc::now();
            let matched = credentials
                .secrets
                .iter()
                .fold(false, |ok, s| (hasher.verify(&secret, &s.hash) & s.is_active_at(now)) | ok);
            if matched {
                argus_telemetry::record_tenant(app.tenant_id.as_str());
                Ok(AuthenticatedClient { app, confidential: true })
            } else {
                Err(OAuthError::invalid_client())
            }
        }
        (ClientType::Public, None) => {
            argus_telemetry::record_tenant(app.tenant_id.as_str());
            Ok(AuthenticatedClient { app, confidential: false })
        }
        _ => Err(OAuthError::invalid_client()),
    }
}
