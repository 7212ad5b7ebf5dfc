//! Standard Webhooks signature verification, for webhook deliveries and job
//! callbacks alike.
//!
//! A delivery carries `webhook-id`, `webhook-timestamp` (Unix seconds) and
//! `webhook-signature`: one or more space-separated `v1,<base64>` HMAC-SHA256
//! signatures over `{id}.{timestamp}.{body}`, more than one while the
//! webhook's secret is being rotated. [`WebhookVerifier`] accepts the
//! delivery when any signature matches any of its secrets and the timestamp
//! is within the tolerance (replays of old deliveries are refused).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::error::{Error, Result};

/// The header naming the message (the event id: the same on every retry).
pub const ID_HEADER: &str = "webhook-id";
/// The header holding the signing time, Unix seconds.
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";
/// The header holding the space-separated signatures.
pub const SIGNATURE_HEADER: &str = "webhook-signature";

/// The default tolerance between a delivery's timestamp and now.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// Verifies Standard Webhooks signatures with one or more `whsec_` secrets.
///
/// ```
/// use argus_client::WebhookVerifier;
///
/// // The Standard Webhooks specification's test vector.
/// let verifier = WebhookVerifier::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
/// let ok = verifier.verify_at(
///     "msg_p5jXN8AQM9LWM0D4loKWxJek",
///     "1614265330",
///     "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
///     br#"{"test": 2432232314}"#,
///     1614265330,
/// );
/// assert!(ok.is_ok());
/// ```
#[derive(Clone)]
pub struct WebhookVerifier {
    keys: Vec<Vec<u8>>,
    tolerance: Duration,
}

impl std::fmt::Debug for WebhookVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The keys are secrets.
        f.debug_struct("WebhookVerifier").field("keys", &self.keys.len()).field("tolerance", &self.tolerance).finish()
    }
}

impl WebhookVerifier {
    /// A verifier for `secret` (`whsec_` and base64; the prefix may be left
    /// off), with the default tolerance.
    pub fn new(secret: &str) -> Result<Self> {
        Self::with_secrets([secret])
    }

    /// A verifier accepting signatures by any of `secrets`: the receiver's
    /// side of a rotation, when it holds the old and the new secret.
    pub fn with_secrets<'a>(secrets: impl IntoIterator<Item = &'a str>) -> Result<Self> {
        let keys = secrets.into_iter().map(signing_key).collect::<Result<Vec<_>>>()?;
        if keys.is_empty() {
            return Err(Error::Config("a webhook verifier needs at least one secret".into()));
        }
        Ok(Self { keys, tolerance: DEFAULT_TOLERANCE })
    }

    /// The same verifier with another timestamp tolerance.
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Verifies a delivery by its headers (looked up by lower-case name
    /// through `header`) and its raw body, against the clock.
    pub fn verify<'h>(&self, header: impl Fn(&str) -> Option<&'h str>, body: &[u8]) -> Result<Delivery> {
        let id = header(ID_HEADER).ok_or(Error::Webhook("no webhook-id header"))?;
        let timestamp = header(TIMESTAMP_HEADER).ok_or(Error::Webhook("no webhook-timestamp header"))?;
        let signatures = header(SIGNATURE_HEADER).ok_or(Error::Webhook("no webhook-signature header"))?;
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
        self.verify_at(id, timestamp, signatures, body, i64::try_from(now).unwrap_or(i64::MAX))
    }

    /// Verifies a delivery's three header values and body as of `now`
    /// (Unix seconds).
    pub fn verify_at(&self, id: &str, timestamp: &str, signatures: &str, body: &[u8], now: i64) -> Result<Delivery> {
        let ts: i64 = timestamp.trim().parse().map_err(|_| Error::Webhook("webhook-timestamp is not a number"))?;
        // `abs_diff`: a timestamp near i64::MIN or MAX must not overflow.
        if now.abs_diff(ts) > self.tolerance.as_secs() {
            return Err(Error::Webhook("webhook-timestamp is outside the tolerance"));
        }
        let candidates: Vec<Vec<u8>> = signatures
            .split(' ')
            .filter_map(|entry| entry.strip_prefix("v1,"))
            .filter_map(|b64| STANDARD.decode(b64).ok())
            .collect();
        let matched = self.keys.iter().any(|key| {
            // `new_from_slice` takes a key of any length.
            let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else { return false };
            mac.update(id.as_bytes());
            mac.update(b".");
            mac.update(timestamp.trim().as_bytes());
            mac.update(b".");
            mac.update(body);
            // `verify_slice` compares in constant time.
            candidates.iter().any(|candidate| mac.clone().verify_slice(candidate).is_ok())
        });
        if matched {
            Ok(Delivery { id: id.to_owned(), timestamp: ts, body: body.to_vec() })
        } else {
            Err(Error::Webhook("no signature matches"))
        }
    }
}

/// A delivery whose signature verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// `webhook-id`: the event id, the same on every retry; deduplicate on it.
    pub id: String,
    /// `webhook-timestamp`, Unix seconds.
    pub timestamp: i64,
    /// The raw body, as signed.
    pub body: Vec<u8>,
}

impl Delivery {
    /// The body read as JSON into `T` (an [`Event`] for webhook deliveries).
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        Ok(serde_json::from_slice(&self.body)?)
    }
}

/// The envelope of a webhook delivery's body.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct Event {
    /// The event id (also in `webhook-id`).
    pub id: String,
    /// The event type, e.g. `incident.created`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The tenant the event belongs to.
    pub tenant_id: String,
    /// When it happened.
    #[serde(default)]
    pub timestamp: Option<chrono::DateTime<chrono::Utc>>,
    /// The event's payload.
    #[serde(default)]
    pub data: serde_json::Value,
}

/// The HMAC key of a `whsec_` secret.
fn signing_key(secret: &str) -> Result<Vec<u8>> {
    let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
    match STANDARD.decode(encoded) {
        Ok(key) if !key.is_empty() => Ok(key),
        _ => Err(Error::Config("a webhook secret is `whsec_` and base64 of the key".into())),
    }
}

#[cfg(feature = "actix-web")]
mod actix {
    //! [`VerifiedWebhook`](super::VerifiedWebhook) as an actix-web extractor.

    use std::future::Future;
    use std::pin::Pin;

    use actix_web::{FromRequest, HttpRequest, dev::Payload, web};

    use super::{VerifiedWebhook, WebhookVerifier};

    impl FromRequest for VerifiedWebhook {
        type Error = actix_web::Error;
        type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

        fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
            let req = req.clone();
            let body = web::Bytes::from_request(&req, payload);
            Box::pin(async move {
                let body = body.await?;
                let verifier = req.app_data::<web::Data<WebhookVerifier>>().ok_or_else(|| {
                    actix_web::error::ErrorInternalServerError("no web::Data<WebhookVerifier> registered")
                })?;
                let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
                verifier
                    .verify(header, &body)
                    .map(VerifiedWebhook)
                    .map_err(|e| actix_web::error::ErrorUnauthorized(e.to_string()))
            })
        }
    }
}

#[cfg(feature = "axum")]
mod axum {
    //! [`VerifiedWebhook`](super::VerifiedWebhook) as an axum extractor.

    use axum_core::extract::{FromRef, FromRequest, Request};
    use axum_core::response::{IntoResponse, Response};

    use super::{VerifiedWebhook, WebhookVerifier};

    impl<S> FromRequest<S> for VerifiedWebhook
    where
        S: Send + Sync,
        WebhookVerifier: FromRef<S>,
    {
        type Rejection = Response;

        async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
            let verifier = WebhookVerifier::from_ref(state);
            let headers = req.headers().clone();
            // Bounded by axum's `DefaultBodyLimit` (2 MiB unless changed).
            let body = bytes::Bytes::from_request(req, state).await.map_err(IntoResponse::into_response)?;
            let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
            verifier
                .verify(header, &body)
                .map(VerifiedWebhook)
                .map_err(|e| (http::StatusCode::UNAUTHORIZED, e.to_string()).into_response())
        }
    }
}

/// A request whose Standard Webhooks signature verified: an extractor for
/// actix-web (feature `actix-web`; register the verifier as
/// `web::Data<WebhookVerifier>`) and axum (feature `axum`; the verifier
/// comes from the router's state through `FromRef`). A request that does
/// not verify is answered 401.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedWebhook(pub Delivery);

#[cfg(test)]
mod tests {
    use super::*;

    // The Standard Webhooks specification's published test vector
    // (github.com/standard-webhooks/standard-webhooks, the libraries' tests).
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TIMESTAMP: i64 = 1_614_265_330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn at(verifier: &WebhookVerifier, id: &str, ts: &str, sig: &str, body: &[u8], now: i64) -> bool {
        verifier.verify_at(id, ts, sig, body, now).is_ok()
    }

    #[test]
    fn the_specification_vector_verifies() {
        let v = WebhookVerifier::new(SECRET).unwrap();
        let delivery = v.verify_at(ID, "1614265330", SIGNATURE, BODY, TIMESTAMP).unwrap();
        assert_eq!(delivery.id, ID);
        assert_eq!(delivery.timestamp, TIMESTAMP);
        // The prefix is optional.
        assert!(at(
            &WebhookVerifier::new("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap(),
            ID,
            "1614265330",
            SIGNATURE,
            BODY,
            TIMESTAMP
        ));
        // Inside the tolerance on both sides.
        assert!(at(&v, ID, "1614265330", SIGNATURE, BODY, TIMESTAMP + 300));
        assert!(at(&v, ID, "1614265330", SIGNATURE, BODY, TIMESTAMP - 300));
    }

    #[test]
    fn anything_changed_fails() {
        let v = WebhookVerifier::new(SECRET).unwrap();
        assert!(!at(&v, "msg_other", "1614265330", SIGNATURE, BODY, TIMESTAMP));
        assert!(!at(&v, ID, "1614265331", SIGNATURE, BODY, TIMESTAMP));
        assert!(!at(&v, ID, "1614265330", SIGNATURE, br#"{"test": 2432232315}"#, TIMESTAMP));
        assert!(!at(&v, ID, "1614265330", "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", BODY, TIMESTAMP));
        assert!(!at(&v, ID, "1614265330", "", BODY, TIMESTAMP));
        let other = WebhookVerifier::new("whsec_c2VjcmV0LW9mLWEtcm90YXRlZC1lbmRwb2ludA==").unwrap();
        assert!(!at(&other, ID, "1614265330", SIGNATURE, BODY, TIMESTAMP));
    }

    #[test]
    fn stale_and_future_timestamps_fail() {
        let v = WebhookVerifier::new(SECRET).unwrap();
        assert!(!at(&v, ID, "1614265330", SIGNATURE, BODY, TIMESTAMP + 301));
        assert!(!at(&v, ID, "1614265330", SIGNATURE, BODY, TIMESTAMP - 301));
        assert!(!at(&v, ID, &i64::MIN.to_string(), SIGNATURE, BODY, TIMESTAMP));
        assert!(!at(&v, ID, "not-a-number", SIGNATURE, BODY, TIMESTAMP));
        // A wider tolerance lets the old delivery through.
        let lax = v.clone().tolerance(Duration::from_secs(3_600));
        assert!(at(&lax, ID, "1614265330", SIGNATURE, BODY, TIMESTAMP + 3_000));
    }

    #[test]
    fn any_signature_of_several_and_any_secret_of_several_verifies() {
        // The vectors' multiple-signature case: the good one among others.
        let many = format!(
            "v1,tFtCZ5RDCPxzWQRWXWPgrCgE2frDBe9gjpbWQxnVfsQ= v1,Mm7xgUVICxZfQ3bgf0h0Dof65L/IFx+PnZvnDWPCX6Q= {SIGNATURE} v1,9DfC1c3eeOrXB6w/5dIDydLNQaEyww5KalE5jLBZucE="
        );
        let v = WebhookVerifier::new(SECRET).unwrap();
        assert!(at(&v, ID, "1614265330", &many, BODY, TIMESTAMP));
        let without = many.replace(SIGNATURE, "");
        assert!(!at(&v, ID, "1614265330", &without, BODY, TIMESTAMP));
        // The receiver holding the old and the new secret.
        let both = WebhookVerifier::with_secrets(["whsec_c2VjcmV0LW9mLWEtcm90YXRlZC1lbmRwb2ludA==", SECRET]).unwrap();
        assert!(at(&both, ID, "1614265330", SIGNATURE, BODY, TIMESTAMP));
    }

    #[test]
    fn headers_are_read_by_name() {
        let v = WebhookVerifier::new(SECRET).unwrap().tolerance(Duration::from_secs(u64::MAX / 2));
        let headers = [(ID_HEADER, ID), (TIMESTAMP_HEADER, "1614265330"), (SIGNATURE_HEADER, SIGNATURE)];
        let lookup = |name: &str| headers.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
        assert!(v.verify(lookup, BODY).is_ok());
        for missing in [ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER] {
            let lookup = |name: &str| headers.iter().find(|(n, _)| *n == name && name != missing).map(|(_, v)| *v);
            assert!(v.verify(lookup, BODY).is_err(), "{missing} missing");
        }
    }

    #[test]
    fn secrets_must_be_base64_keys() {
        assert!(WebhookVerifier::new("whsec_").is_err());
        assert!(WebhookVerifier::new("whsec_not base64!").is_err());
        assert!(WebhookVerifier::with_secrets([]).is_err());
    }

    proptest::proptest! {
        #[test]
        fn hostile_input_is_refused_without_panicking(
            id in proptest::prelude::any::<String>(),
            timestamp in proptest::prop_oneof![
                proptest::prelude::any::<String>(),
                proptest::strategy::Strategy::prop_map(proptest::prelude::any::<i64>(), |t| t.to_string()),
            ],
            signatures in proptest::prop_oneof![
                proptest::prelude::any::<String>(),
                "(v1,[A-Za-z0-9+/=é]{0,50} ?){0,4}",
            ],
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
            now in proptest::prelude::any::<i64>(),
        ) {
            let v = WebhookVerifier::new(SECRET).unwrap();
            proptest::prop_assert!(v.verify_at(&id, &timestamp, &signatures, &body, now).is_err());
        }
    }
}
