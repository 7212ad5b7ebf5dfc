//! Evidence provenance without a server: what a verifier needs to check an
//! evidence transcript offline. The RFC 9162 Merkle tree ([`merkle`]), the
//! transcript document ([`transcript`]), the keys that verify tree heads
//! ([`keys`]: HMAC-SHA256 with the tenant's exported key, ML-DSA-65 with
//! its published public keys) and the verification naming every tampered
//! entry ([`verify`]). Pure Rust and no I/O, so the SDK and
//! `argusctl provenance verify` verify exactly as the api-service does;
//! signing (and the sealed private keys) stays in argus-crypto.

pub mod keys;
pub mod merkle;
mod named;
pub mod transcript;
pub mod verify;

pub use keys::{Algorithm, Jwk, JwkSet, VerifyKey};
pub use transcript::{EarlierHead, Transcript, TreeHead};
pub use verify::{Tampering, Verification, verify_offline};

/// Lowercase hexadecimal, two digits a byte.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hex (either case) to bytes; `None` for anything but pairs of hex digits.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}
