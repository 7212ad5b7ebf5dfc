//! Standard Webhooks signatures (<https://www.standardwebhooks.com>) and the
//! sealed storage of signing secrets. A signing secret cannot be kept as a
//! one-way hash (the worker needs the key itself to sign), so it is stored
//! encrypted with AES-256-GCM under a key derived from the server pepper.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hmac;

use crate::CryptoError;
use crate::secrets::random_bytes;

pub const SECRET_PREFIX: &str = "whsec_";
const MIN_KEY_BYTES: usize = 24;
const MAX_KEY_BYTES: usize = 64;

/// `whsec_` + base64 of 32 random bytes.
pub fn generate_webhook_secret() -> String {
    format!("{SECRET_PREFIX}{}", STANDARD.encode(random_bytes::<32>()))
}

/// The signing key inside a `whsec_…` secret (24 to 64 bytes).
pub fn webhook_signing_key(secret: &str) -> Result<Vec<u8>, CryptoError> {
    let encoded = secret
        .strip_prefix(SECRET_PREFIX)
        .ok_or_else(|| CryptoError::BadSecret(format!("a webhook secret starts with `{SECRET_PREFIX}`")))?;
    let key = STANDARD
        .decode(encoded)
        .map_err(|_| CryptoError::BadSecret("a webhook secret is base64 after `whsec_`".into()))?;
    if !(MIN_KEY_BYTES..=MAX_KEY_BYTES).contains(&key.len()) {
        return Err(CryptoError::BadSecret(format!("a webhook secret holds {MIN_KEY_BYTES} to {MAX_KEY_BYTES} bytes")));
    }
    Ok(key)
}

/// `v1,` + base64(HMAC-SHA256(key, "{msg_id}.{timestamp}.{body}")).
pub fn sign_webhook(key: &[u8], msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    format!("v1,{}", STANDARD.encode(hmac::sign(&key, &signed_content(msg_id, timestamp, body)).as_ref()))
}

/// Whether `signature` (one `v1,…` entry of `webhook-signature`) is the
/// signature of the message, checked by `ring::hmac::verify` in constant time.
pub fn webhook_signature_matches(key: &[u8], msg_id: &str, timestamp: i64, body: &[u8], signature: &str) -> bool {
    let Some(mac) = signature.strip_prefix("v1,").and_then(|b64| STANDARD.decode(b64).ok()) else {
        return false;
    };
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    hmac::verify(&key, &signed_content(msg_id, timestamp, body), &mac).is_ok()
}

fn signed_content(msg_id: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
    let mut content = format!("{msg_id}.{timestamp}.").into_bytes();
    content.extend_from_slice(body);
    content
}

/// Seals and opens secrets stored at rest.
#[derive(Clone)]
pub struct SecretBox {
    key: std::sync::Arc<LessSafeKey>,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox([redacted])")
    }
}

impl SecretBox {
    pub fn new(pepper: &[u8]) -> Self {
        Self::derived(pepper, b"argus secret box v1: AES-256-GCM")
    }

    /// The AES-256 key is HMAC-SHA256(`secret`, `purpose`): one secret can
    /// key several boxes that cannot open each other's contents.
    pub(crate) fn derived(secret: &[u8], purpose: &[u8]) -> Self {
        let derivation = hmac::Key::new(hmac::HMAC_SHA256, secret);
        let key_bytes = hmac::sign(&derivation, purpose);
        // A 32-byte key for a 32-byte-key algorithm cannot be refused.
        #[allow(clippy::expect_used)]
        let key = UnboundKey::new(&AES_256_GCM, key_bytes.as_ref()).expect("32-byte AES-256 key");
        Self { key: std::sync::Arc::new(LessSafeKey::new(key)) }
    }

    /// nonce ‖ ciphertext ‖ tag.
    pub fn seal(&self, plaintext: &[u8]) -> Vec<u8> {
        self.seal_bound(plaintext, b"")
    }

    pub fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.open_bound(sealed, b"")
    }

    /// Like [`Self::seal`], authenticating `context` too (the row the secret
    /// belongs to): what is sealed for one row does not open for another.
    pub(crate) fn seal_bound(&self, plaintext: &[u8], context: &[u8]) -> Vec<u8> {
        let nonce_bytes = random_bytes::<NONCE_LEN>();
        let mut sealed = plaintext.to_vec();
        // Sealing only fails for inputs beyond AES-GCM's size limit (64 GiB).
        #[allow(clippy::expect_used)]
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce_bytes), Aad::from(context), &mut sealed)
            .expect("secret within AES-GCM limits");
        let mut out = nonce_bytes.to_vec();
        out.extend(sealed);
        out
    }

    pub(crate) fn open_bound(&self, sealed: &[u8], context: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if sealed.len() < NONCE_LEN {
            return Err(CryptoError::BadSecret("sealed secret too short".into()));
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| CryptoError::BadSecret("nonce".into()))?;
        let mut buf = ciphertext.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(context), &mut buf)
            .map_err(|_| CryptoError::BadSecret("sealed secret does not open (wrong pepper?)".into()))?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Standard Webhooks known-answer vector.
    #[test]
    fn standard_webhooks_vector() {
        let key = webhook_signing_key("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
        let sig = sign_webhook(
            &key,
            "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
            1_649_367_553,
            br#"{"email":"test@example.com","username":"test_user"}"#,
        );
        assert_eq!(sig, "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=");
        let (id, body) = ("msg_27UH4WbU6Z5A5EzD8u03UvzRbpk", br#"{"email":"test@example.com","username":"test_user"}"#);
        assert!(webhook_signature_matches(&key, id, 1_649_367_553, body, &sig));
        assert!(!webhook_signature_matches(&key, id, 1_649_367_554, body, &sig));
        assert!(!webhook_signature_matches(
            &key,
            id,
            1_649_367_553,
            body,
            "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkx="
        ));
        assert!(!webhook_signature_matches(&key, id, 1_649_367_553, body, "v2,x"));
        assert!(!webhook_signature_matches(&key, id, 1_649_367_553, body, "v1,!!!"));
    }

    #[test]
    fn secrets_are_checked_and_sealed() {
        let secret = generate_webhook_secret();
        assert_eq!(webhook_signing_key(&secret).unwrap().len(), 32);
        assert!(webhook_signing_key("nope").is_err());
        assert!(webhook_signing_key("whsec_!!!").is_err());
        assert!(webhook_signing_key("whsec_c2hvcnQ=").is_err());
        let sealer = SecretBox::new(b"pepper");
        let sealed = sealer.seal(secret.as_bytes());
        assert_ne!(&sealed[12..], secret.as_bytes());
        assert_eq!(sealer.open(&sealed).unwrap(), secret.as_bytes());
        assert!(SecretBox::new(b"other").open(&sealed).is_err());
    }

    proptest::proptest! {
        #[test]
        fn webhook_secret_and_signature_parsing_never_panics(
            secret in proptest::prop_oneof![proptest::prelude::any::<String>(), "whsec_[A-Za-z0-9+/=é]{0,90}"],
            signature in proptest::prop_oneof![proptest::prelude::any::<String>(), "v1,[A-Za-z0-9+/=é]{0,50}"],
            msg_id in proptest::prelude::any::<String>(),
            timestamp in proptest::prelude::any::<i64>(),
        ) {
            let _ = webhook_signing_key(&secret);
            let key = webhook_signing_key(&generate_webhook_secret()).unwrap();
            let body = br#"{"type":"webhook.test"}"#;
            proptest::prop_assert!(!webhook_signature_matches(&key, &msg_id, timestamp, body, &signature));
        }

        #[test]
        fn webhook_signatures_round_trip(
            msg_id in proptest::prelude::any::<String>(),
            timestamp in proptest::prelude::any::<i64>(),
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256),
        ) {
            let key = webhook_signing_key(&generate_webhook_secret()).unwrap();
            let signature = sign_webhook(&key, &msg_id, timestamp, &body);
            proptest::prop_assert!(webhook_signature_matches(&key, &msg_id, timestamp, &body, &signature));
            let later = timestamp.wrapping_add(1);
            proptest::prop_assert!(!webhook_signature_matches(&key, &msg_id, later, &body, &signature));
        }

        #[test]
        fn opening_sealed_secrets_never_panics(
            sealed in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..128),
            plain in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..128),
        ) {
            let sealer = SecretBox::new(b"pepper");
            let _ = sealer.open(&sealed);
            proptest::prop_assert_eq!(sealer.open(&sealer.seal(&plain)).unwrap(), plain);
        }
    }
}
