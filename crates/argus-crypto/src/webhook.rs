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
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(msg_id.as_bytes());
    ctx.update(b".");
    ctx.update(timestamp.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body);
    format!("v1,{}", STANDARD.encode(ctx.sign().as_ref()))
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
        let derivation = hmac::Key::new(hmac::HMAC_SHA256, pepper);
        let key_bytes = hmac::sign(&derivation, b"argus secret box v1: AES-256-GCM");
        // A 32-byte key for a 32-byte-key algorithm cannot be refused.
        #[allow(clippy::expect_used)]
        let key = UnboundKey::new(&AES_256_GCM, key_bytes.as_ref()).expect("32-byte AES-256 key");
        Self { key: std::sync::Arc::new(LessSafeKey::new(key)) }
    }

    /// nonce ‖ ciphertext ‖ tag.
    pub fn seal(&self, plaintext: &[u8]) -> Vec<u8> {
        let nonce_bytes = random_bytes::<NONCE_LEN>();
        let mut sealed = plaintext.to_vec();
        // Sealing only fails for inputs beyond AES-GCM's size limit (64 GiB).
        #[allow(clippy::expect_used)]
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce_bytes), Aad::empty(), &mut sealed)
            .expect("secret within AES-GCM limits");
        let mut out = nonce_bytes.to_vec();
        out.extend(sealed);
        out
    }

    pub fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if sealed.len() < NONCE_LEN {
            return Err(CryptoError::BadSecret("sealed secret too short".into()));
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| CryptoError::BadSecret("nonce".into()))?;
        let mut buf = ciphertext.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::empty(), &mut buf)
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
}
