//! The authorization endpoint (RFC 6749 §4.1, PKCE per RFC 7636, `iss` per
//! RFC 9207) and its browser pages: sign-in and consent.
//!
//! Every form carries the original authorization request, which is
//! validated again on each step: nothing a browser sends back is trusted.
//! Sign-in is protected by a double-submit CSRF cookie, consent by a token
//! bound to the session.

use std::sync::OnceLock;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use argus_store::apps::AppRecord;
use argus_store::oauth::{CodeGrant, SignInAttempt};
use argus_types::app::{ClientType, GrantType};
use argus_types::{ClientId, ScopeSet};
use askama::Template;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Duration;
use serde::Deserialize;

use crate::error::ApiError;
use crate::oauth::{Params, pkce};
use crate::state::AppState;

const SESSION_COOKIE: &str = "argus_session";
const CSRF_COOKIE: &str = "argus_csrf";
const COOKIE_PATH: &str = "/v1/oauth";
const CODE_PREFIX: &str = "ac_";
const CODE_LIFETIME_SECONDS: i64 = 60;
const MAX_STATE_LEN: usize = 1024;

#[derive(Template)]
#[template(path = "signin.html")]
struct SignInPage<'a> {
    app_name: &'a str,
    csrf: &'a str,
    request: &'a str,
    email: &'a str,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage<'a> {
    app_name: &'a str,
    user_email: &'a str,
    scopes: Vec<(String, String)>,
    redirect_host: &'a str,
    csrf: &'a str,
    request: &'a str,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    message: &'a str,
}

/// A validated authorization request.
struct AuthorizeRequest {
    app: AppRecord,
    redirect_uri: String,
    state: Option<String>,
    scopes: ScopeSet,
    code_challenge: Option<String>,
    /// The query string it came from, carried through the forms.
    raw: String,
}

/// Why a request cannot proceed: before the redirect URI is trusted the
/// user sees a page; after, the client gets an RFC 6749 §4.1.2.1 redirect.
enum Refusal {
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

fn page(status: StatusCode, html: Result<String, askama::Error>) -> HttpResponse {
    match html {
        Ok(body) => HttpResponse::build(status)
            .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::X_FRAME_OPTIONS, "DENY"))
            .insert_header((
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
            ))
            .insert_header((header::REFERRER_POLICY, "no-referrer"))
            .body(body),
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            HttpResponse::InternalServerError().finish()
        }
    }
}

fn error_page(status: StatusCode, message: &str) -> HttpResponse {
    page(status, ErrorPage { message }.render())
}

impl Refusal {
    fn respond(self, issuer: &str) -> HttpResponse {
        match self {
            Refusal::Page(status, message) => error_page(status, &message),
            Refusal::Redirect { redirect_uri, state, error, description } => {
                let mut pairs = vec![("error", error.to_owned()), ("error_description", description)];
                if let Some(state) = state {
                    pairs.push(("state", state));
                }
                pairs.push(("iss", issuer.to_owned()));
                redirect_to(&redirect_uri, &pairs)
            }
        }
    }
}

/// 302 to `base` with `pairs` appended to its query (RFC 6749 §3.1.2 keeps
/// any query the registered URI already has).
fn redirect_to(base: &str, pairs: &[(&str, String)]) -> HttpResponse {
    match url::Url::parse(base) {
        Ok(mut url) => {
            {
                let mut query = url.query_pairs_mut();
                for (k, v) in pairs {
                    query.append_pair(k, v);
                }
            }
            HttpResponse::Found().insert_header((header::LOCATION, url.to_string())).finish()
        }
        Err(_) => error_page(StatusCode::BAD_REQUEST, "The redirect URI is not valid."),
    }
}

fn well_formed_state(state: &str) -> bool {
    // RFC 6749 Appendix A.5: VSCHAR.
    state.len() <= MAX_STATE_LEN && state.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

async fn validate(state: &AppState, raw: &str) -> Result<AuthorizeRequest, Refusal> {
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

fn cookie<'c>(name: &'c str, value: String, secure: bool, max_age: Duration) -> Cookie<'c> {
    Cookie::build(name, value)
        .path(COOKIE_PATH)
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .max_age(actix_web::cookie::time::Duration::seconds(max_age.num_seconds()))
        .finish()
}

fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(argus_crypto::secrets::random_bytes::<32>())
}

fn consent_csrf(state: &AppState, session: &str) -> String {
    URL_SAFE_NO_PAD.encode(state.secrets.hash(&format!("consent:{session}")))
}

fn consent_csrf_ok(state: &AppState, session: &str, presented: &str) -> bool {
    URL_SAFE_NO_PAD.decode(presented).is_ok_and(|mac| state.secrets.verify(&format!("consent:{session}"), &mac))
}

/// The signed-in session for the app's tenant, with its raw cookie value.
async fn session_for(
    state: &AppState,
    req: &HttpRequest,
    app: &AppRecord,
) -> Result<Option<(String, argus_store::oauth::SessionRecord)>, ApiError> {
    let Some(raw) = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned()) else { return Ok(None) };
    let found = state.store.find_session(&state.secrets.hash(&raw)).await?;
    Ok(found.filter(|s| s.tenant_id == app.tenant_id).map(|s| (raw, s)))
}

fn sign_in_page(
    state: &AppState,
    request: &AuthorizeRequest,
    email: &str,
    error: Option<String>,
    status: StatusCode,
) -> HttpResponse {
    let csrf = random_token();
    let mut response = page(
        status,
        SignInPage { app_name: &request.app.name, csrf: &csrf, request: &request.raw, email, error }.render(),
    );
    let _ = response.add_cookie(&cookie(CSRF_COOKIE, csrf, state.secure_cookies, Duration::hours(1)));
    response
}

async fn consent_page(
    state: &AppState,
    request: &AuthorizeRequest,
    session_raw: &str,
    session: &argus_store::oauth::SessionRecord,
) -> Result<HttpResponse, ApiError> {
    let user = state.store.get_user(&session.tenant_id, &session.user_id).await?;
    let catalog = state.store.published_scopes().await?;
    let scopes = request
        .scopes
        .iter()
        .map(|name| {
            let words =
                catalog.iter().find(|s| s.name == name).map_or_else(|| name.to_owned(), |s| s.description.clone());
            (name.to_owned(), words)
        })
        .collect();
    let redirect_host = url::Url::parse(&request.redirect_uri).ok().and_then(|u| u.host_str().map(str::to_owned));
    let csrf = consent_csrf(state, session_raw);
    Ok(page(
        StatusCode::OK,
        ConsentPage {
            app_name: &request.app.name,
            user_email: user.as_ref().map_or("", |u| u.email.as_str()),
            scopes,
            redirect_host: redirect_host.as_deref().unwrap_or(""),
            csrf: &csrf,
            request: &request.raw,
        }
        .render(),
    ))
}

/// Start OAuth authorization code flow
///
/// Validates the request (client, exact redirect URI, scope, state, PKCE
/// S256), then shows the sign-in page or, for a signed-in user, the consent
/// page. On consent the browser is sent to
/// `redirect_uri?code=…&state=…&iss=…`. An unknown client or redirect URI
/// gets an error page and is never redirected to.
#[utoipa::path(
    get,
    path = "/v1/oauth/authorize",
    tag = "OAuth and service tokens",
    params(
        ("response_type" = String, Query, description = "`code`"),
        ("client_id" = String, Query),
        ("redirect_uri" = String, Query, description = "Exactly one of the app's registered redirect URIs"),
        ("scope" = Option<String>, Query, description = "Space-separated; defaults to every scope the app may be granted"),
        ("state" = Option<String>, Query),
        ("code_challenge" = Option<String>, Query, description = "Required for public clients and when governance enforces PKCE"),
        ("code_challenge_method" = Option<String>, Query, description = "`S256`"),
    ),
    responses(
        (status = 200, description = "Sign-in or consent page (HTML)"),
        (status = 302, description = "Back to the client with an error"),
        (status = 400, description = "Unknown client or unregistered redirect URI (HTML page)"),
    )
)]
#[tracing::instrument(skip_all)]
pub async fn authorize(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let request = match validate(&state, req.query_string()).await {
        Ok(r) => r,
        Err(refusal) => return refusal.respond(&state.tokens.issuer),
    };
    match session_for(&state, &req, &request.app).await {
        Ok(Some((raw, session))) => consent_page(&state, &request, &raw, &session)
            .await
            .unwrap_or_else(|e| Refusal::from(e).respond(&state.tokens.issuer)),
        Ok(None) => sign_in_page(&state, &request, "", None, StatusCode::OK),
        Err(e) => Refusal::from(e).respond(&state.tokens.issuer),
    }
}

#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    request: String,
}

fn dummy_password_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| argus_crypto::hash_password("argus-timing-equaliser").unwrap_or_default())
}

/// Sign-in form target. Never logs the password.
#[tracing::instrument(skip_all)]
pub async fn sign_in(req: HttpRequest, state: web::Data<AppState>, form: web::Form<SignInForm>) -> HttpResponse {
    let form = form.into_inner();
    if let Err(wait) = state.limits.check_sign_in(state.limits.source(&req)) {
        let mut response = error_page(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many sign-in attempts from your network. Wait a moment and try again.",
        );
        response.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from(wait));
        return response;
    }
    let csrf_ok = req.cookie(CSRF_COOKIE).is_some_and(|c| {
        !form.csrf.is_empty() && argus_crypto::equal_constant_time(c.value().as_bytes(), form.csrf.as_bytes())
    });
    if !csrf_ok {
        return error_page(
            StatusCode::FORBIDDEN,
            "The sign-in form has expired or was not sent from this site. Start again from the application.",
        );
    }
    let request = match validate(&state, &form.request).await {
        Ok(r) => r,
        Err(refusal) => return refusal.respond(&state.tokens.issuer),
    };
    match attempt_sign_in(&state, &request, &form).await {
        Ok(SignInOutcome::SignedIn { session }) => {
            let mut response = HttpResponse::SeeOther()
                .insert_header((header::LOCATION, format!("/v1/oauth/authorize?{}", request.raw)))
                .finish();
            let _ = response.add_cookie(&cookie(SESSION_COOKIE, session, state.secure_cookies, state.session_ttl));
            let _ = response.add_removal_cookie(&cookie(
                CSRF_COOKIE,
                String::new(),
                state.secure_cookies,
                Duration::zero(),
            ));
            response
        }
        Ok(SignInOutcome::WrongCredentials) => sign_in_page(
            &state,
            &request,
            &form.email,
            Some("The email or password is not correct.".to_owned()),
            StatusCode::UNAUTHORIZED,
        ),
        Ok(SignInOutcome::Locked { wait_seconds }) => {
            let message = format!("Too many failed attempts. Try again in {wait_seconds} seconds.");
            let mut response =
                sign_in_page(&state, &request, &form.email, Some(message), StatusCode::TOO_MANY_REQUESTS);
            response.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from(wait_seconds));
            response
        }
        Ok(SignInOutcome::Busy) => {
            let mut response = sign_in_page(
                &state,
                &request,
                &form.email,
                Some("Sign-in is busy. Try again in a moment.".to_owned()),
                StatusCode::SERVICE_UNAVAILABLE,
            );
            response.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
            response
        }
        Err(e) => Refusal::from(e).respond(&state.tokens.issuer),
    }
}

/// How a sign-in attempt ended, when nothing failed on our side.
enum SignInOutcome {
    /// A new session, whose raw id goes in the cookie.
    SignedIn {
        session: String,
    },
    WrongCredentials,
    Locked {
        wait_seconds: u64,
    },
    /// No password check could start in time.
    Busy,
}

async fn attempt_sign_in(
    state: &AppState,
    request: &AuthorizeRequest,
    form: &SignInForm,
) -> Result<SignInOutcome, ApiError> {
    let tenant = &request.app.tenant_id;
    let email = form.email.trim().to_ascii_lowercase();
    // Counted before the check, so concurrent guesses cannot all get one.
    if let SignInAttempt::Locked { until } = state.store.claim_sign_in_attempt(tenant, &email, &state.lockout).await? {
        let wait = (until - chrono::Utc::now()).num_seconds().max(1);
        return Ok(SignInOutcome::Locked { wait_seconds: u64::try_from(wait).unwrap_or(1) });
    }
    let user = state.store.find_user_by_email(tenant, &email).await?;
    let stored = user.as_ref().map_or_else(|| dummy_password_hash().to_owned(), |u| u.password_hash.clone());
    let Ok(verified) = state.passwords.verify(form.password.clone(), stored).await else {
        return Ok(SignInOutcome::Busy);
    };
    match user {
        Some(user) if verified => {
            state.store.clear_sign_in_failures(tenant, &email).await?;
            let raw = random_token();
            state.store.create_session(state.secrets.hash(&raw), tenant, &user.id, state.session_ttl).await?;
            tracing::info!(user_id = %user.id, "signed in");
            Ok(SignInOutcome::SignedIn { session: raw })
        }
        _ => {
            tracing::info!("sign-in failed");
            Ok(SignInOutcome::WrongCredentials)
        }
    }
}

#[derive(Deserialize)]
pub struct ConsentForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    request: String,
    #[serde(default)]
    decision: String,
}

/// Consent form target: approve issues a code, deny returns `access_denied`.
#[tracing::instrument(skip_all)]
pub async fn consent(req: HttpRequest, state: web::Data<AppState>, form: web::Form<ConsentForm>) -> HttpResponse {
    let form = form.into_inner();
    let request = match validate(&state, &form.request).await {
        Ok(r) => r,
        Err(refusal) => return refusal.respond(&state.tokens.issuer),
    };
    let session = match session_for(&state, &req, &request.app).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            return error_page(StatusCode::FORBIDDEN, "You are not signed in. Start again from the application.");
        }
        Err(e) => return Refusal::from(e).respond(&state.tokens.issuer),
    };
    if form.csrf.is_empty() || !consent_csrf_ok(&state, &session.0, &form.csrf) {
        return error_page(
            StatusCode::FORBIDDEN,
            "The consent form has expired or was not sent from this site. Start again from the application.",
        );
    }
    match form.decision.as_str() {
        "approve" => {}
        "deny" => {
            return Refusal::Redirect {
                redirect_uri: request.redirect_uri,
                state: request.state,
                error: "access_denied",
                description: "the user denied the request".into(),
            }
            .respond(&state.tokens.issuer);
        }
        _ => return error_page(StatusCode::BAD_REQUEST, "Choose Allow or Deny."),
    }
    let code = argus_crypto::generate_secret(CODE_PREFIX);
    let grant = CodeGrant {
        tenant_id: request.app.tenant_id.clone(),
        client_id: request.app.client_id.clone(),
        user_id: session.1.user_id.clone(),
        redirect_uri: request.redirect_uri.clone(),
        scopes: request.scopes.clone().into_vec(),
        code_challenge: request.code_challenge.clone(),
        code_challenge_method: request.code_challenge.as_ref().map(|_| "S256".to_owned()),
    };
    if let Err(e) = state
        .store
        .create_authorization_code(state.secrets.hash(&code), &grant, Duration::seconds(CODE_LIFETIME_SECONDS))
        .await
    {
        return Refusal::from(e).respond(&state.tokens.issuer);
    }
    tracing::info!(client_id = %request.app.client_id, "authorization code issued");
    let mut pairs = vec![("code", code)];
    if let Some(s) = request.state {
        pairs.push(("state", s));
    }
    pairs.push(("iss", state.tokens.issuer.clone()));
    redirect_to(&request.redirect_uri, &pairs)
}
