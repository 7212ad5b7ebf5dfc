//! The authorization endpoint (RFC 6749 §4.1, PKCE per RFC 7636, `iss` per
//! RFC 9207) and its browser pages: sign-in and consent.
//!
//! Every form carries the original authorization request, which is
//! validated again on each step: nothing a browser sends back is trusted.
//! Sign-in is protected by a double-submit CSRF cookie, consent by a token
//! bound to the session.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use argus_store::apps::AppRecord;
use askama::Template;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Duration;
use serde::Deserialize;

use crate::error::ApiError;
use crate::metrics::SignIn;
use crate::oauth::authorization::{AuthorizeRequest, Refusal, issue_code, validate};
use crate::oauth::sign_in::{SignInOutcome, attempt_sign_in, random_token};
use crate::state::AppState;

const SESSION_COOKIE: &str = "argus_session";
const CSRF_COOKIE: &str = "argus_csrf";
const COOKIE_PATH: &str = "/v1/oauth";

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

fn cookie<'c>(name: &'c str, value: String, secure: bool, max_age: Duration) -> Cookie<'c> {
    Cookie::build(name, value)
        .path(COOKIE_PATH)
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .max_age(actix_web::cookie::time::Duration::seconds(max_age.num_seconds()))
        .finish()
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
        (status = 400, description = "Unknown client or unregistered redirect URI", content_type = "text/html"),
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

/// Sign-in form target. Never logs the password.
#[tracing::instrument(skip_all)]
pub async fn sign_in(req: HttpRequest, state: web::Data<AppState>, form: web::Form<SignInForm>) -> HttpResponse {
    let form = form.into_inner();
    if let Err(wait) = state.limits.check_sign_in(state.limits.source(&req)) {
        crate::metrics::sign_in(SignIn::RateLimited);
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
    let attempt = attempt_sign_in(&state, &request.app.tenant_id, &form.email, form.password.clone()).await;
    crate::metrics::sign_in(match &attempt {
        Ok(SignInOutcome::SignedIn { .. }) => SignIn::SignedIn,
        Ok(SignInOutcome::WrongCredentials) => SignIn::WrongCredentials,
        Ok(SignInOutcome::Locked { .. }) => SignIn::Locked,
        Ok(SignInOutcome::Busy) => SignIn::Busy,
        Err(_) => SignIn::Error,
    });
    match attempt {
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
    let code = match issue_code(&state, &request, &session.1.user_id).await {
        Ok(code) => code,
        Err(e) => return Refusal::from(e).respond(&state.tokens.issuer),
    };
    let mut pairs = vec![("code", code)];
    if let Some(s) = request.state {
        pairs.push(("state", s));
    }
    pairs.push(("iss", state.tokens.issuer.clone()));
    redirect_to(&request.redirect_uri, &pairs)
}
