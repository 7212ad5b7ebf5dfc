//! The typed client for both hosts: the auth-service (`auth.knogin.com`:
//! apps, tokens, webhooks) and the api-service (`api.knogin.com`: GraphQL,
//! jobs, traces, ePCR, devices, provenance, discovery).

/// A page of a cursor-paginated list, `{"<field>": [<item>…], "next_cursor": …}`,
/// as the type `$list` implementing [`Page`].
macro_rules! page {
    ($list:ident, $field:ident, $item:ty) => {
        #[derive(serde::Deserialize)]
        struct $list {
            $field: Vec<$item>,
            next_cursor: Option<String>,
        }

        impl super::Page for $list {
            type Item = $item;
            fn into_parts(self) -> (Vec<$item>, Option<String>) {
                (self.$field, self.next_cursor)
            }
        }
    };
}

mod apps;
mod data;
mod graphql;
mod jobs;
mod oauth;
mod retry;

pub(crate) use retry::inject_trace_context;
mod webhooks;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{Stream, StreamExt, TryStreamExt, stream};
use reqwest::Method;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use apps::*;
pub use data::*;
pub use graphql::*;
pub use jobs::*;
pub use oauth::*;
pub use retry::RetryPolicy;
pub use webhooks::*;

use crate::error::{Error, OAuthError, Problem, Result};

/// The public hosts' base URLs.
pub const LIVE_AUTH_URL: &str = "https://auth.knogin.com";
/// The live API's base URL.
pub const LIVE_API_URL: &str = "https://api.knogin.com";
/// The sandbox API's base URL (sandbox tokens only).
pub const SANDBOX_API_URL: &str = "https://sandbox-api.knogin.com";

/// How the client authenticates its calls.
#[derive(Clone)]
pub enum Credentials {
    /// No bearer token: the public routes only (JWKS, discovery, tokens by
    /// form parameters).
    None,
    /// A token the caller holds (an admin's, a service token, an
    /// authorization-code token), sent as is.
    Bearer(String),
    /// A confidential app's client credentials: the client mints a token
    /// with `scope` (`None`: every approved scope), caches it and mints the
    /// next shortly before it expires.
    ClientCredentials {
        /// The app's `client_id`.
        client_id: String,
        /// The app's `client_secret`.
        client_secret: String,
        /// Space-separated scopes, or `None` for the app's approved ones.
        scope: Option<String>,
    },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Secrets stay out of logs.
        match self {
            Self::None => f.write_str("None"),
            Self::Bearer(_) => f.write_str("Bearer(…)"),
            Self::ClientCredentials { client_id, scope, .. } => {
                f.debug_struct("ClientCredentials").field("client_id", client_id).field("scope", scope).finish()
            }
        }
    }
}

/// Configures an [`ArgusClient`].
#[derive(Debug)]
pub struct ArgusClientBuilder {
    auth_url: String,
    api_url: String,
    credentials: Credentials,
    tenant: Option<String>,
    retry: RetryPolicy,
    timeout: Duration,
    connect_timeout: Duration,
    http: Option<reqwest::Client>,
}

impl ArgusClientBuilder {
    /// The auth-service's base URL (default [`LIVE_AUTH_URL`]): `https`, or
    /// `http` to this machine only (a local stack), as client secrets and
    /// tokens go there.
    pub fn auth_url(mut self, url: impl Into<String>) -> Self {
        self.auth_url = url.into();
        self
    }

    /// The api-service's base URL (default [`LIVE_API_URL`]): `https`, or
    /// `http` to this machine only, as tokens go there.
    pub fn api_url(mut self, url: impl Into<String>) -> Self {
        self.api_url = url.into();
        self
    }

    /// How calls authenticate (default [`Credentials::None`]).
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = credentials;
        self
    }

    /// The tenant sent as `X-Tenant-ID` to the api-service (GraphQL needs
    /// it; on REST routes it must be the token's tenant).
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// When and how often failed calls are retried.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The longest one attempt of a call may take (default 30 s; a job
    /// result's stream is not bounded by it).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The longest connecting may take (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// An HTTP client of the caller's (proxy, TLS roots); the timeouts set
    /// here are then the caller's client's.
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// The client, after checking the base URLs (a plain `http` one to
    /// another machine is an [`Error::Config`]).
    pub fn build(self) -> Result<ArgusClient> {
        let base = |url: &str| -> Result<String> {
            crate::transport::require_private_http(
                url,
                "base URL",
                "client secrets and tokens sent over plain http can be read on the way",
            )?;
            Ok(url.trim_end_matches('/').to_owned())
        };
        let http = match self.http {
            Some(http) => http,
            None => reqwest::Client::builder()
                .connect_timeout(self.connect_timeout)
                .read_timeout(self.timeout)
                .user_agent(concat!("argus-client/", env!("CARGO_PKG_VERSION")))
                .build()?,
        };
        Ok(ArgusClient {
            inner: Arc::new(Shared {
                http,
                auth_url: base(&self.auth_url)?,
                api_url: base(&self.api_url)?,
                retry: self.retry,
                timeout: self.timeout,
            }),
            tenant: self.tenant,
            token: Arc::new(TokenSource::new(self.credentials)),
        })
    }
}

/// What every view of one client shares.
struct Shared {
    http: reqwest::Client,
    auth_url: String,
    api_url: String,
    retry: RetryPolicy,
    timeout: Duration,
}

/// The bearer token of a client, minted and cached for client credentials.
struct TokenSource {
    credentials: Credentials,
    /// The cached client-credentials token; one mint at a time.
    cached: tokio::sync::Mutex<Option<CachedToken>>,
}

struct CachedToken {
    access_token: String,
    /// When to mint the next: before the token expires, not after.
    renew_at: Instant,
}

impl TokenSource {
    fn new(credentials: Credentials) -> Self {
        Self { credentials, cached: tokio::sync::Mutex::new(None) }
    }
}

/// The Argus SDK's client. Cheap to clone; clones share connections and
/// the cached token.
///
/// ```no_run
/// # async fn run() -> argus_client::Result<()> {
/// use argus_client::{ArgusClient, Credentials};
/// use futures_util::TryStreamExt;
///
/// let client = ArgusClient::builder()
///     .credentials(Credentials::ClientCredentials {
///         client_id: "app_123".into(),
///         client_secret: std::env::var("ARGUS_CLIENT_SECRET").unwrap_or_default(),
///         scope: Some("webhooks:read webhooks:write".into()),
///     })
///     .build()?;
/// let hooks: Vec<_> = client.list_webhooks().try_collect().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ArgusClient {
    inner: Arc<Shared>,
    tenant: Option<String>,
    token: Arc<TokenSource>,
}

impl std::fmt::Debug for ArgusClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArgusClient")
            .field("auth_url", &self.inner.auth_url)
            .field("api_url", &self.inner.api_url)
            .field("tenant", &self.tenant)
            .field("credentials", &self.token.credentials)
            .finish()
    }
}

/// Which host a call goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Host {
    Auth,
    Api,
}

/// A request body, kept as bytes so a retry can send it again.
#[derive(Debug, Clone)]
pub(crate) enum Body {
    Empty,
    Json(Vec<u8>),
    Form(String),
}

/// One API call, before it is sent (and maybe sent again).
#[derive(Debug, Clone)]
pub(crate) struct Call {
    method: Method,
    host: Host,
    path: String,
    query: Vec<(String, String)>,
    body: Body,
    headers: Vec<(HeaderName, String)>,
    /// Safe to send twice: retried after a connection failure too.
    idempotent: bool,
    /// Sends the client's bearer token.
    authenticated: bool,
}

impl Call {
    pub(crate) fn new(method: Method, host: Host, path: impl Into<String>) -> Self {
        let idempotent = matches!(method, Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS);
        Self {
            method,
            host,
            path: path.into(),
            query: Vec::new(),
            body: Body::Empty,
            headers: Vec::new(),
            idempotent,
            authenticated: true,
        }
    }

    pub(crate) fn get(host: Host, path: impl Into<String>) -> Self {
        Self::new(Method::GET, host, path)
    }

    pub(crate) fn post(host: Host, path: impl Into<String>) -> Self {
        Self::new(Method::POST, host, path)
    }

    pub(crate) fn json(mut self, body: &impl Serialize) -> Result<Self> {
        self.body = Body::Json(serde_json::to_vec(body)?);
        Ok(self)
    }

    pub(crate) fn form(mut self, fields: &[(&str, &str)]) -> Self {
        self.body = Body::Form(url::form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish());
        self
    }

    pub(crate) fn query(mut self, name: &str, value: Option<impl ToString>) -> Self {
        if let Some(value) = value {
            self.query.push((name.to_owned(), value.to_string()));
        }
        self
    }

    pub(crate) fn header(mut self, name: HeaderName, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub(crate) fn idempotent(mut self, idempotent: bool) -> Self {
        self.idempotent = idempotent;
        self
    }

    pub(crate) fn anonymous(mut self) -> Self {
        self.authenticated = false;
        self
    }
}

/// A page of a cursor-paginated list.
pub(crate) trait Page: DeserializeOwned + Send + 'static {
    type Item: Send + 'static;
    fn into_parts(self) -> (Vec<Self::Item>, Option<String>);
}

impl ArgusClient {
    /// A builder with the live hosts' URLs and no credentials.
    pub fn builder() -> ArgusClientBuilder {
        ArgusClientBuilder {
            auth_url: LIVE_AUTH_URL.into(),
            api_url: LIVE_API_URL.into(),
            credentials: Credentials::None,
            tenant: None,
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            http: None,
        }
    }

    /// This client with other credentials (same hosts, connections and
    /// tenant): an admin token for app registration beside an app's
    /// client credentials, say.
    pub fn with_credentials(&self, credentials: Credentials) -> Self {
        Self { inner: self.inner.clone(), tenant: self.tenant.clone(), token: Arc::new(TokenSource::new(credentials)) }
    }

    /// This client with a bearer token of the caller's.
    pub fn with_bearer(&self, token: impl Into<String>) -> Self {
        self.with_credentials(Credentials::Bearer(token.into()))
    }

    /// This client sending `X-Tenant-ID: tenant` to the api-service.
    pub fn with_tenant(&self, tenant: impl Into<String>) -> Self {
        Self { inner: self.inner.clone(), tenant: Some(tenant.into()), token: self.token.clone() }
    }

    /// The auth-service's base URL.
    pub fn auth_url(&self) -> &str {
        &self.inner.auth_url
    }

    /// The api-service's base URL.
    pub fn api_url(&self) -> &str {
        &self.inner.api_url
    }

    /// The bearer token calls send: the caller's, or the cached
    /// client-credentials token (minted when missing or about to expire).
    pub async fn access_token(&self) -> Result<Option<String>> {
        match &self.token.credentials {
            Credentials::None => Ok(None),
            Credentials::Bearer(token) => Ok(Some(token.clone())),
            Credentials::ClientCredentials { client_id, client_secret, scope } => {
                let mut cached = self.token.cached.lock().await;
                if let Some(token) = cached.as_ref().filter(|t| Instant::now() < t.renew_at) {
                    return Ok(Some(token.access_token.clone()));
                }
                let minted = self.mint_client_credentials(client_id, client_secret, scope.as_deref()).await?;
                let lifetime = Duration::from_secs(minted.expires_in.max(0).unsigned_abs());
                // Renewed with a tenth of its life (at least 30 s) left, so a
                // call never carries a token that expires on the way.
                let margin = (lifetime / 10).max(Duration::from_secs(30)).min(lifetime);
                let token = minted.access_token.clone();
                *cached = Some(CachedToken {
                    access_token: minted.access_token,
                    renew_at: Instant::now() + lifetime - margin,
                });
                Ok(Some(token))
            }
        }
    }

    /// Sends `call`, retrying as the [`RetryPolicy`] says; a success
    /// response, or the error its failure answer reads as.
    pub(crate) async fn send(&self, call: &Call) -> Result<reqwest::Response> {
        let token = if call.authenticated { self.access_token().await? } else { None };
        self.send_with(call, token.as_deref()).await
    }

    /// [`ArgusClient::send`] with `token` as the bearer token (minting a
    /// token goes through here, never through `send`, which may mint).
    pub(crate) async fn send_with(&self, call: &Call, token: Option<&str>) -> Result<reqwest::Response> {
        let base = match call.host {
            Host::Auth => &self.inner.auth_url,
            Host::Api => &self.inner.api_url,
        };
        let url = format!("{base}{}", call.path);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut request = self.inner.http.request(call.method.clone(), &url).headers(self.headers(call, token)?);
            if !call.query.is_empty() {
                request = request.query(&call.query);
            }
            request = match &call.body {
                Body::Empty => request,
                Body::Json(bytes) => request.header(CONTENT_TYPE, "application/json").body(bytes.clone()),
                Body::Form(text) => {
                    request.header(CONTENT_TYPE, "application/x-www-form-urlencoded").body(text.clone())
                }
            };
            let outcome = request.timeout(self.inner.timeout).send().await;
            let wait = match &outcome {
                Ok(response) => self.inner.retry.after_status(response.status().as_u16(), response.headers(), attempt),
                Err(e) if call.idempotent && (e.is_connect() || e.is_timeout()) => {
                    self.inner.retry.after_connection_error(attempt)
                }
                Err(_) => None,
            };
            match (wait, outcome) {
                (Some(wait), _) => tokio::time::sleep(wait).await,
                (None, Ok(response)) if response.status().is_success() => return Ok(response),
                (None, Ok(response)) => return Err(error_of(response).await),
                (None, Err(e)) => return Err(e.into()),
            }
        }
    }

    /// The headers of one attempt: the token, the tenant for the
    /// api-service, the call's own, and `traceparent` from the current span.
    fn headers(&self, call: &Call, token: Option<&str>) -> Result<HeaderMap> {
        let mut headers = HeaderMap::new();
        let value =
            |v: &str| HeaderValue::from_str(v).map_err(|_| Error::Config(format!("`{v}` is not a header value")));
        if let Some(token) = token {
            headers.insert(reqwest::header::AUTHORIZATION, value(&format!("Bearer {token}"))?);
        }
        if let (Host::Api, Some(tenant)) = (call.host, &self.tenant) {
            headers.insert(HeaderName::from_static("x-tenant-id"), value(tenant)?);
        }
        for (name, v) in &call.headers {
            headers.insert(name.clone(), value(v)?);
        }
        inject_trace_context(&mut headers);
        Ok(headers)
    }

    /// Sends `call` and reads its JSON answer.
    pub(crate) async fn json<T: DeserializeOwned>(&self, call: &Call) -> Result<T> {
        let bytes = self.send(call).await?.bytes().await?;
        Ok(serde_json::from_slice(&bytes)?)
    }

    /// Sends `call` for its status alone.
    pub(crate) async fn empty(&self, call: &Call) -> Result<()> {
        self.send(call).await.map(drop)
    }

    /// Every item of a cursor-paginated list, page by page as the stream is
    /// read (`cursor` is the previous page's `next_cursor`).
    pub(crate) fn paginate<P: Page>(&self, first: Call) -> impl Stream<Item = Result<P::Item>> + Send + 'static {
        let client = self.clone();
        stream::try_unfold(Some(None::<String>), move |cursor| {
            let client = client.clone();
            let first = first.clone();
            async move {
                let Some(cursor) = cursor else { return Ok::<_, Error>(None) };
                let page: P = client.json(&first.query("cursor", cursor)).await?;
                let (items, next) = page.into_parts();
                Ok(Some((stream::iter(items.into_iter().map(Ok::<_, Error>)), next.map(Some))))
            }
        })
        .try_flatten()
        .boxed()
    }
}

/// The error a failure answer reads as: problem+json, an OAuth error, or
/// the start of whatever else it was.
async fn error_of(response: reqwest::Response) -> Error {
    /// The most of a failure body read.
    const LIMIT: usize = 64 * 1024;
    let status = response.status().as_u16();
    let mut response = response;
    let mut body = Vec::new();
    while body.len() < LIMIT {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    #[derive(serde::Deserialize)]
    struct GraphQlErrors {
        errors: Vec<crate::error::GraphQlError>,
        #[serde(default)]
        data: Option<serde_json::Value>,
    }
    if let Ok(GraphQlErrors { errors, data }) = serde_json::from_slice(&body) {
        return Error::GraphQl { errors, data };
    }
    if let Ok(error) = serde_json::from_slice::<OAuthError>(&body) {
        return Error::OAuth { status, error };
    }
    if let Ok(problem) = serde_json::from_slice::<Problem>(&body)
        && (problem.type_uri.is_some() || problem.title.is_some())
    {
        return Error::Api { status, problem: Box::new(problem) };
    }
    body.truncate(4096);
    Error::Unexpected { status, body: String::from_utf8_lossy(&body).into_owned() }
}

/// A path segment, percent-encoded.
pub(crate) fn segment(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>().replace('+', "%20")
}
