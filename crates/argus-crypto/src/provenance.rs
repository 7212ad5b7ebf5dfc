//! The keys that sign evidence transcripts' tree heads: per tenant, HMAC-SHA256,
//! stored sealed (AES-256-GCM under a key derived from the secret pepper for
//! this purpose alone, bound to the key's id) and never published.

use ring::hmac;

use crate::CryptoError;
use crate::secrets::random_bytes;
use crate::webhook::SecretBox;

/// The algorithm name tree heads carry.
pub const HMAC_SHA256: &str = "hmac-sha256";

/// Seals new signing keys and opens stored ones.
#[derive(Debug, Clone)]
pub struct ProvenanceSealer(SecretBox);

impl ProvenanceSealer {
    pub fn new(pepper: &[u8]) -> Self {
        Self(SecretBox::derived(pepper, b"argus provenance keys v1: AES-256-GCM"))
    }

    /// A fresh 256-bit key for `kid`, sealed for storage.
    pub fn new_sealed_key(&self, kid: &str) -> Vec<u8> {
        self.0.seal_bound(&random_bytes::<32>(), kid.as_bytes())
    }

    /// The stored key `kid`.
    pub fn open(&self, kid: &str, sealed: &[u8]) -> Result<TreeHeadKey, CryptoError> {
        Ok(TreeHeadKey(hmac::Key::new(hmac::HMAC_SHA256, &self.open_secret(kid, sealed)?)))
    }

    /// The stored key `kid`'s bytes: for the tenant admin, who verifies
    /// tree heads offline with them.
    pub fn open_secret(&self, kid: &str, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.0.open_bound(sealed, kid.as_bytes())
    }
}

/// An opened HMAC-SHA256 tree-head key.
#[derive(Clone)]
pub struct TreeHeadKey(hmac::Key);

impl TreeHeadKey {
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        hmac::sign(&self.0, message).as_ref().to_vec()
    }

    /// Whether `signature` is this key's over `message` (constant time).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        hmac::verify(&self.0, message, signature).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_key_opens_only_for_its_id_and_signs_verifiably() {
        let sealer = ProvenanceSealer::new(b"pepper");
        let sealed = sealer.new_sealed_key("pvk_a");
        let key = sealer.open("pvk_a", &sealed).unwrap();
        let signature = key.sign(b"head");
        assert!(key.verify(b"head", &signature));
        assert!(!key.verify(b"head!", &signature));
        assert!(sealer.open("pvk_b", &sealed).is_err());
        assert!(ProvenanceSealer::new(b"other").open("pvk_a", &sealed).is_err());
        let other = sealer.open("pvk_a", &sealer.new_sealed_key("pvk_a")).unwrap();
        assert!(!other.verify(b"head", &signature));
    }
}
