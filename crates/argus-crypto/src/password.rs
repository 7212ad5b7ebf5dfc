//! User passwords: argon2id with the crate's default (OWASP-grade) parameters,
//! in PHC string form so parameters can be raised later without a migration.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

use crate::CryptoError;
use crate::secrets::random_bytes;

pub fn hash_password(password: &str) -> Result<String, CryptoError> {
    let hash: PasswordHash = Argon2::default()
        .hash_password_with_salt(password.as_bytes(), &random_bytes::<16>())
        .map_err(|_| CryptoError::PasswordHash)?;
    Ok(hash.to_string())
}

/// Whether `password` matches the PHC string `stored`; a malformed stored
/// hash never matches.
pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2id_round_trip() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong horse", &h));
        assert!(!verify_password("x", "not a hash"));
    }
}
