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
