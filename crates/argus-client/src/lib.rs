//! The Rust SDK for Argus integrators.
//!
//! - [`TokenVerifier`]: verifies an Argus access token with only the public
//!   JWKS (RS256, issuer, audience, expiry, `typ: at+jwt`).
//! - [`verify_webhook`]: checks a webhook's Standard Webhooks signature and
//!   timestamp tolerance.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("fetching the JWKS failed: {0}")]
    Jwks(#[from] reqwest::Error),
    #[error("the token is not valid: {0}")]
    Token(String),
    #[error("the webhook is not authentic: {0}")]
    Webhook(String),
}

/// Verifies access tokens against a JWKS fetched once from `jwks_url`.
pub struct TokenVerifier {
    keys: JwkSet,
    validation: Validation,
}

impl TokenVerifier {
    pub async fn fetch(jwks_url: &str, issuer: &str, audience: &str) -> Result<Self, ClientError> {
        let keys: JwkSet = reqwest::get(jwks_url).await?.error_for_status()?.json().await?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        Ok(Self { keys, validation })
    }

    /// The token's claims, if it verifies.
    pub fn verify(&self, token: &str) -> Result<Value, ClientError> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| ClientError::Token(e.to_string()))?;
        if header.typ.as_deref() != Some("at+jwt") {
            return Err(ClientError::Token("typ is not at+jwt".into()));
        }
        let kid = header.kid.ok_or_else(|| ClientError::Token("no kid".into()))?;
        let jwk = self.keys.find(&kid).ok_or_else(|| ClientError::Token(format!("kid {kid} is not in the JWKS")))?;
        let key = DecodingKey::from_jwk(jwk).map_err(|e| ClientError::Token(e.to_string()))?;
        jsonwebtoken::decode::<Value>(token, &key, &self.validation)
            .map(|d| d.claims)
            .map_err(|e| ClientError::Token(e.to_string()))
    }
}

/// How far a webhook's timestamp may be from now.
pub const WEBHOOK_TOLERANCE_SECONDS: i64 = 300;

/// Checks `webhook-signature` (any of its space-separated `v1,` entries)
/// over `webhook-id.webhook-timestamp.body` with the `whsec_` secret.
pub fn verify_webhook(
    secret: &str,
    id: &str,
    timestamp: &str,
    signatures: &str,
    body: &[u8],
) -> Result<(), ClientError> {
    let key = argus_crypto::webhook::webhook_signing_key(secret).map_err(|e| ClientError::Webhook(e.to_string()))?;
    let ts: i64 = timestamp.parse().map_err(|_| ClientError::Webhook("webhook-timestamp is not a number".into()))?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or_default();
    // `abs_diff`: a timestamp near i64::MIN or MAX must not overflow.
    if now.abs_diff(ts) > WEBHOOK_TOLERANCE_SECONDS.unsigned_abs() {
        return Err(ClientError::Webhook("webhook-timestamp is outside the tolerance".into()));
    }
    let matched = signatures
        .split(' ')
        .any(|candidate| argus_crypto::webhook::webhook_signature_matches(&key, id, ts, body, candidate));
    if matched { Ok(()) } else { Err(ClientError::Webhook("no signature matches".into())) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_signatures_are_checked_with_tolerance() {
        let secret = argus_crypto::webhook::generate_webhook_secret();
        let key = argus_crypto::webhook::webhook_signing_key(&secret).unwrap();
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
        let body = br#"{"type":"webhook.test"}"#;
        let good = argus_crypto::webhook::sign_webhook(&key, "evt_1", now, body);
        let both = format!("v1,AAAA {good}");
        assert!(verify_webhook(&secret, "evt_1", &now.to_string(), &both, body).is_ok());
        assert!(verify_webhook(&secret, "evt_2", &now.to_string(), &good, body).is_err());
        assert!(verify_webhook(&secret, "evt_1", &now.to_string(), &good, b"{}").is_err());
        let old = now - 600;
        let stale = argus_crypto::webhook::sign_webhook(&key, "evt_1", old, body);
        assert!(verify_webhook(&secret, "evt_1", &old.to_string(), &stale, body).is_err());
        assert!(verify_webhook(&secret, "evt_1", &i64::MIN.to_string(), &good, body).is_err());
    }

    proptest::proptest! {
        #[test]
        fn webhook_verification_never_panics(
            secret in proptest::prop_oneof![proptest::prelude::any::<String>(), "whsec_[A-Za-z0-9+/=]{32,44}"],
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
        ) {
            proptest::prop_assert!(verify_webhook(&secret, &id, &timestamp, &signatures, &body).is_err());
        }

        #[test]
        fn signed_webhooks_verify(
            id in proptest::prelude::any::<String>(),
            // Inside the tolerance, with a second for the clock to turn.
            skew in -299i64..300,
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
        ) {
            let secret = argus_crypto::webhook::generate_webhook_secret();
            let key = argus_crypto::webhook::webhook_signing_key(&secret).unwrap();
            let ts = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64 + skew;
            let signature = argus_crypto::webhook::sign_webhook(&key, &id, ts, &body);
            proptest::prop_assert!(verify_webhook(&secret, &id, &ts.to_string(), &signature, &body).is_ok());
        }
    }
}
