//! The services' JWKS key source: an [`argus_jwks::JwksCache`] (the cache the
//! SDK's verifier uses too) over the auth-service's published key set, for
//! services that verify tokens they did not issue. Its fetches are traced
//! as outbound HTTP client spans that continue the caller's trace.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use argus_jwks::{JwksCache, JwksError, JwksPolicy, JwksTransport};
use jsonwebtoken::DecodingKey;
use tracing::Instrument;

use crate::KeySource;

/// Timeout of one fetch of the key set.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// A cache of the key set at `url`, empty until the first verification or
/// [`JwksCache::refresh`]; a service keeps it fresh with
/// [`JwksCache::spawn_background_refresh`].
pub fn remote_jwks(url: &str, policy: JwksPolicy) -> Result<Arc<JwksCache>, JwksError> {
    let http = reqwest::Client::builder()
        .timeout(FETCH_TIMEOUT)
        .build()
        .map_err(|e| JwksError::Fetch { url: url.to_owned(), reason: e.to_string() })?;
    Ok(Arc::new(JwksCache::new(url, policy, http)?.with_transport(Arc::new(Traced))))
}

/// Sends each fetch in an HTTP client span carrying its `traceparent`.
struct Traced;

impl JwksTransport for Traced {
    fn send<'a>(
        &'a self,
        mut request: reqwest::RequestBuilder,
        url: &'a url::Url,
    ) -> Pin<Box<dyn Future<Output = reqwest::Result<reqwest::Response>> + Send + 'a>> {
        let span = argus_telemetry::outbound::http_client_span("GET", url);
        for (name, value) in argus_telemetry::propagation::headers_of(&span) {
            request = request.header(name, value);
        }
        Box::pin(async move {
            let response = request.send().instrument(span.clone()).await;
            match &response {
                Ok(response) => argus_telemetry::outbound::record_status(&span, response.status().as_u16()),
                Err(_) => argus_telemetry::outbound::record_failure(&span, "connect"),
            }
            response
        })
    }
}

impl KeySource for JwksCache {
    fn decoding_key<'a>(&'a self, kid: &'a str) -> Pin<Box<dyn Future<Output = Option<DecodingKey>> + Send + 'a>> {
        // Why a key is missing (an unknown kid, the key set unreachable) is
        // logged by the cache; the caller answers 401 either way.
        Box::pin(async move { self.key(kid).await.ok() })
    }
}
