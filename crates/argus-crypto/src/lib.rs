//! Cryptography for Argus: random secrets and their keyed hashes, password
//! hashing, RSA signing keys, their public JWKs, and access-token signing.

pub mod jwk;
pub mod keys;
pub mod password;
pub mod provenance;
mod provider;
pub mod sealing;
pub mod secrets;
#[cfg(feature = "testing")]
pub mod testing;
pub mod tokens;
pub mod webhook;

pub use jwk::{Jwk, JwkSet};
pub use keys::{SigningKey, generate_signing_key_pem};
pub use password::{hash_password, verify_password};
pub use sealing::{DEV_SEALING_KEYS, KeySealer};
pub use secrets::{DEV_PEPPER, SecretHasher, equal_constant_time, generate_secret};
pub use tokens::{IssuedToken, TokenGrant, issue_access_token};

pub use argus_provenance::hex;

/// 80 bits of SHA-256 of the parts (each ended by a zero byte), for an id
/// derived from names rather than drawn (`…Id::derived`): the sandbox's
/// scenario rows and the rows a write under a scenario makes.
pub fn derived_id_bits(parts: &[&str]) -> u128 {
    let mut hash = ring::digest::Context::new(&ring::digest::SHA256);
    for part in parts {
        hash.update(part.as_bytes());
        hash.update(&[0]);
    }
    let digest = hash.finish();
    let mut low = [0u8; 16];
    low[6..].copy_from_slice(&digest.as_ref()[..10]);
    u128::from_be_bytes(low)
}

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("key generation failed")]
    KeyGeneration,
    #[error("stored signing key is unreadable: {0}")]
    BadKey(String),
    #[error("token signing failed: {0}")]
    Signing(#[from] jsonwebtoken::errors::Error),
    #[error("password hashing failed")]
    PasswordHash,
    #[error("{0}")]
    BadSecret(String),
}
