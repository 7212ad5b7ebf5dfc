//! The authorization request (RFC 6749 §4.1.1 with PKCE per RFC 7636):
//! validating it, the refusals it can end in, and issuing the code once the
//! user consents. `routes::authorize` renders the pages and redirects.

use actix_web::http::StatusCode;
use argus_store::apps::AppRecord;
use argus_store::oauth::CodeGrant;
use argus_types::app::{ClientType, GrantType};
use argus_types::{ClientId, ScopeSet, UserId};
use chrono::Duration;

use crate::error::ApiError;
use crate::oauth::{Params, pkce};
use crate::state::AppState;

const CODE_PREFIX: &str = "ac_";
const CODE_LIFETIME_SECONDS: i64 = 60;
const MAX_STATE_LEN: usize = 1024;

/// A validated authorization request.
pub struct AuthorizeRequest {
    pub app: AppRecord,
    pub redirect_uri: String,
    pub state: Option<String>,
    pub scopes: ScopeSet,
    pub code_challenge: Option<String>,
    /// The query string it came from, carried through the forms.
    pub raw: String,
}

/// Why a request cannot proceed: before the redirect URI is trusted the
/// user sees a page; after, the client gets an RFC 6749 §4.1.2.1 redirect.
pub enum Refusal {
    Page(StatusCode, String),
    Redirect { redirect_uri: String, state: Option<String>, error: &'static str, description: String },
}

impl From<ApiError> for Refusal {
    fn from(e: ApiError) -> Self {
        tracing::error!(error = %e, "authorization request failed");
        Refusal::Page(
            StatusCode::SERVICE_UNAVAILABLE,
            "The service is temporarily unavailable. Try again shortly.".into(),
        )
    }
}

impl From<argus_store::StoreError> for Refusal {
    fn from(e: argus_store::StoreError) -> Self {
        ApiError::from(e).into()
    }
}

fn well_formed_state(state: &str) -> bool {
    // RFC 6749 Appendix A.5: VSCHAR.
    state.len() <= MAX_STATE_LEN && state.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

/// Validates an authorization request's query string, again at every step.
pub async fn validate(state: &AppState, raw: &str) -> Result<AuthorizeRequest, Refusal> {
    let bad_page = |m: &str| Refusal::Page(StatusCode::BAD_REQUEST, m.to_owned());
    let params = Params::parse(raw.as_bytes()).map_err(|e| bad_page(&format!("The request is malformed: {e}.")))?;
    let client_id =
        params.get("client_id").ok_or_else(|| bad_page("The request does not name a client (client_id)."))?;
    let app = match client_id.parse::<ClientId>() {
        Ok(id) => state.store.app_for_client(&id).await?,
        Err(_) => None,
    }
    .ok_or_else(|| bad_page("The application that sent you here is not registered."))?;
    let redirect_uri = params
        .get("redirect_uri")
        .ok_or_else(|| bad_page("The request does not say where to return to (redirect_uri)."))?;
    let allowed = app.redirect_uris.iter().any(|r| r == redirect_uri)
        && app
            .governance
            .allowed_redirect_uris
            .as_ref()
            .is_none_or(|allowed| allowed.iter().any(|r| r == redirect_uri));
    if !allowed {
        return Err(bad_page("The redirect URI is not registered for this application."));
    }
    let redirect_uri = redirect_uri.to_owned();
    let client_state = params.get("state").map(str::to_owned);
    let refuse = |error: &'static str, description: &str| Refusal::Redirect {
        redirect_uri: redirect_uri.clone(),
        state: client_state.clone().filter(|s| well_formed_state(s)),
        error,
        description: description.to_owned(),
    };
    if client_state.as_deref().is_some_and(|s| !well_formed_state(s)) {
        return Err(refuse("invalid_request", "state must be at most 1024 printable ASCII characters"));
    }
    match params.get("response_type") {
        Some("code") => {}
        Some(_) => return Err(refuse("unsupported_response_type", "only response_type=code is supported")),
        None => return Err(refuse("invalid_request", "response_type is required")),
    }
    if !app.grant_types.contains(&GrantType::AuthorizationCode) {
        return Err(refuse("unauthorized_client", "this client may not use the authorization code grant"));
    }
    let grantable: ScopeSet = app.governance.grantable_scopes(&app.approved_scopes).cloned().collect();
    let scopes = match params.get("scope").map(ScopeSet::from_space_separated) {
        Some(requested) if !requested.is_subset(&grantable) => {
            return Err(refuse("invalid_scope", "the requested scope exceeds what the application is approved for"));
        }
        Some(requested) => requested,
        None => grantable,
    };
    if scopes.is_empty() {
        return Err(refuse("invalid_scope", "no scope to grant"));
    }
    let challenge = params.get("code_challenge");
    let method = params.get("code_challenge_method");
    let pkce_required = app.client_type == ClientType::Public || app.governance.enforce_pkce;
    let code_challenge = match (challenge, method) {
        (_, Some("plain")) => {
            return Err(refuse("invalid_request", "code_challenge_method plain is not allowed; use S256"));
        }
        (_, Some(m)) if m != "S256" => return Err(refuse("invalid_request", "code_challenge_method must be S256")),
        (Some(_), None) => {
            return Err(refuse("invalid_request", "code_challenge_method=S256 is required with a code_challenge"));
        }
        (None, Some(_)) => return Err(refuse("invalid_request", "code_challenge is missing")),
        (Some(c), Some(_)) if !pkce::well_formed(c) => {
            return Err(refuse("invalid_request", "code_challenge is malformed"));
        }
        (Some(c), Some(_)) => Some(c.to_owned()),
        (None, None) if pkce_required => {
            return Err(refuse(
                "invalid_request",
                "PKCE is required: send code_challenge with code_challenge_method=S256",
            ));
        }
        (None, None) => None,
    };
    Ok(AuthorizeRequest { app, redirect_uri, state: client_state, scopes, code_challenge, raw: raw.to_owned() })
}

/// Issues an authorization code for `request`, approved by `user_id`.
pub async fn issue_code(state: &AppState, request: &AuthorizeRequest, user_id: &UserId) -> Result<String, ApiError> {
    let code = argus_crypto::generate_secret(CODE_PREFIX);
    let grant = CodeGrant {
        tenant_id: request.app.tenant_id.clone(),
        client_id: request.app.client_id.clone(),
        user_id: user_id.clone(),
        redirect_uri: request.redirect_uri.clone(),
        scopes: request.scopes.clone().into_vec(),
        code_challenge: request.code_challenge.clone(),
        code_challenge_method: request.code_challenge.as_ref().map(|_| "S256".to_owned()),
    };
    state
        .store
        .create_authorization_code(state.secrets.hash(&code), &grant, Duration::seconds(CODE_LIFETIME_SECONDS))
        .await?;
    tracing::info!(client_id = %request.app.client_id, "authorization code issued");
    Ok(code)
}
