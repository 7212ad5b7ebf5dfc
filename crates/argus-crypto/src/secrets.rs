//! High-entropy secrets (client secrets, webhook secrets) and the keyed hash
//! they are stored as. A 256-bit random secret needs no slow password hash:
//! HMAC-SHA256 with a server-side pepper makes a leaked table useless without
//! the pepper, and verification costs one HMAC.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

/// The pepper used when none is configured: fine on a laptop, warned about
/// at start, and never to be used in production.
pub const DEV_PEPPER: &str = "argus-dev-pepper-do-not-use-in-production";

/// `prefix` followed by 32 random bytes, base64url without padding.
pub fn generate_secret(prefix: &str) -> String {
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(random_bytes::<32>()))
}

/// `N` bytes from the operating system's CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // The system RNG fails only if the OS cannot provide randomness at all;
    // continuing without it would be worse than stopping.
    #[allow(clippy::expect_used)]
    SystemRandom::new().fill(&mut buf).expect("operating system randomness is unavailable");
    buf
}

/// Whether `a` and `b` are equal, in time that depends only on their lengths
/// (for values an attacker guesses at: PKCE challenges, CSRF tokens).
pub fn equal_constant_time(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
}

#[derive(Clone)]
pub struct SecretHasher {
    key: hmac::Key,
}

impl std::fmt::Debug for SecretHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretHasher([redacted])")
    }
}

impl SecretHasher {
    pub fn new(pepper: &[u8]) -> Self {
        Self { key: hmac::Key::new(hmac::HMAC_SHA256, pepper) }
    }

    pub fn hash(&self, secret: &str) -> Vec<u8> {
        hmac::sign(&self.key, secret.as_bytes()).as_ref().to_vec()
    }

    /// Constant-time check of `secret` against a stored hash.
    pub fn verify(&self, secret: &str, stored: &[u8]) -> bool {
        hmac::verify(&self.key, secret.as_bytes(), stored).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_and_verify_only_against_their_own_hash() {
        let a = generate_secret("cs_");
        let b = generate_secret("cs_");
        assert_ne!(a, b);
        assert_eq!(a.len(), 3 + 43);
        let hasher = SecretHasher::new(b"pepper");
        let stored = hasher.hash(&a);
        assert!(hasher.verify(&a, &stored));
        assert!(!hasher.verify(&b, &stored));
        assert!(!SecretHasher::new(b"other pepper").verify(&a, &stored));
    }

    #[test]
    fn constant_time_equality_is_equality() {
        assert!(equal_constant_time(b"abc", b"abc"));
        assert!(!equal_constant_time(b"abc", b"abd"));
        assert!(!equal_constant_time(b"abc", b"abcd"));
        assert!(equal_constant_time(b"", b""));
    }
}
