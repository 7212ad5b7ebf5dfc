//! The keys that sign evidence transcripts' tree heads: per tenant,
//! HMAC-SHA256 (the default) or ML-DSA-65 (FIPS 204, the tenant's opt-in),
//! stored sealed (AES-256-GCM under a key derived from the secret pepper
//! for this purpose alone, bound to the key's id). An HMAC key is a shared
//! secret, never published; an ML-DSA-65 key is stored as its 32-byte seed
//! (FIPS 204 KeyGen's ξ) and its public key is published. Verification is
//! argus-provenance's, which the SDK shares.

use argus_provenance::Algorithm;
pub use ml_dsa::{ExpandedSigningKey, MlDsa65};
use ring::hmac;

use crate::CryptoError;
use crate::secrets::random_bytes;
use crate::webhook::SecretBox;

/// Seals new signing keys and opens stored ones.
#[derive(Debug, Clone)]
pub struct ProvenanceSealer(SecretBox);

/// A new key: sealed for storage, and its public key (ML-DSA-65 only).
pub struct NewKey {
    pub sealed: Vec<u8>,
    pub public: Option<Vec<u8>>,
}

impl ProvenanceSealer {
    pub fn new(pepper: &[u8]) -> Self {
        Self(SecretBox::derived(pepper, b"argus provenance keys v1: AES-256-GCM"))
    }

    /// A fresh key of `algorithm` for `kid`: 256 random bits (the HMAC key,
    /// or the ML-DSA-65 seed ξ), sealed.
    pub fn new_key(&self, kid: &str, algorithm: Algorithm) -> NewKey {
        let secret = random_bytes::<32>();
        let public = match algorithm {
            Algorithm::HmacSha256 => None,
            Algorithm::MlDsa65 => TreeHeadSigner::ml_dsa_65(&secret).public_key(),
        };
        NewKey { sealed: self.0.seal_bound(&secret, kid.as_bytes()), public }
    }

    /// The stored key `kid` of `algorithm`, ready to sign.
    pub fn open(&self, kid: &str, algorithm: Algorithm, sealed: &[u8]) -> Result<TreeHeadSigner, CryptoError> {
        let secret = self.open_secret(kid, sealed)?;
        Ok(match algorithm {
            Algorithm::HmacSha256 => TreeHeadSigner::HmacSha256(hmac::Key::new(hmac::HMAC_SHA256, &secret)),
            Algorithm::MlDsa65 => {
                let seed: [u8; 32] =
                    secret.try_into().map_err(|_| CryptoError::BadSecret("an ML-DSA-65 seed is 32 bytes".into()))?;
                TreeHeadSigner::ml_dsa_65(&seed)
            }
        })
    }

    /// The stored key `kid`'s bytes: for the tenant admin, who verifies
    /// HMAC tree heads offline with them.
    pub fn open_secret(&self, kid: &str, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.0.open_bound(sealed, kid.as_bytes())
    }
}

/// An opened tree-head key.
pub enum TreeHeadSigner {
    HmacSha256(hmac::Key),
    MlDsa65(Box<ExpandedSigningKey<MlDsa65>>),
}

impl TreeHeadSigner {
    /// FIPS 204 ML-DSA.KeyGen_internal(ξ): the ML-DSA-65 key of seed `seed`.
    pub fn ml_dsa_65(seed: &[u8; 32]) -> Self {
        Self::MlDsa65(Box::new(ExpandedSigningKey::from_seed(&(*seed).into())))
    }

    pub fn algorithm(&self) -> Algorithm {
        match self {
            Self::HmacSha256(_) => Algorithm::HmacSha256,
            Self::MlDsa65(_) => Algorithm::MlDsa65,
        }
    }

    /// The ML-DSA-65 public key (FIPS 204 pkEncode, 1952 bytes); `None`
    /// for an HMAC key, which has none.
    pub fn public_key(&self) -> Option<Vec<u8>> {
        match self {
            Self::HmacSha256(_) => None,
            Self::MlDsa65(key) => Some(key.verifying_key().encode().to_vec()),
        }
    }

    /// The signature over `message`: HMAC-SHA256, or ML-DSA-65 hedged with
    /// 32 fresh random bytes ([`ml_dsa_65_sign`]).
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        match self {
            Self::HmacSha256(key) => hmac::sign(key, message).as_ref().to_vec(),
            Self::MlDsa65(key) => ml_dsa_65_sign(key, message, &random_bytes::<32>()),
        }
    }
}

/// FIPS 204 ML-DSA.Sign (Algorithm 2), pure, with the empty context and
/// the per-signature randomness `rnd` given, so known answers can fix it.
/// ml-dsa's own Sign draws rnd from an RNG it is handed; so, per Algorithm
/// 2 line 10, `M'` is `IntegerToBytes(0, 1)`, `IntegerToBytes(|ctx|, 1)`,
/// `ctx` and `M` in a row, then `Sign_internal(sk, M', rnd)`. That panics
/// only if rejection sampling exhausts its nonces, which FIPS 204 bounds far
/// beyond any real chance.
pub fn ml_dsa_65_sign(key: &ExpandedSigningKey<MlDsa65>, message: &[u8], rnd: &[u8; 32]) -> Vec<u8> {
    key.sign_internal(&[&[0, 0], message], &(*rnd).into()).encode().to_vec()
}

#[cfg(test)]
mod tests {
    use argus_provenance::VerifyKey;

    use super::*;

    #[test]
    fn a_sealed_key_opens_only_for_its_id_and_signs_verifiably() {
        let sealer = ProvenanceSealer::new(b"pepper");
        for algorithm in Algorithm::ALL {
            let new = sealer.new_key("pvk_a", algorithm);
            let key = sealer.open("pvk_a", algorithm, &new.sealed).unwrap();
            assert_eq!(key.algorithm(), algorithm);
            assert_eq!(key.public_key(), new.public);
            let verify = match &new.public {
                Some(public) => VerifyKey::ml_dsa_65(public).unwrap(),
                None => VerifyKey::HmacSha256(sealer.open_secret("pvk_a", &new.sealed).unwrap()),
            };
            let signature = key.sign(b"head");
            assert!(verify.verify(b"head", &signature), "{algorithm}");
            assert!(!verify.verify(b"head!", &signature), "{algorithm}");
            assert!(sealer.open("pvk_b", algorithm, &new.sealed).is_err());
            assert!(ProvenanceSealer::new(b"other").open("pvk_a", algorithm, &new.sealed).is_err());
            let other = sealer.open("pvk_a", algorithm, &sealer.new_key("pvk_a", algorithm).sealed).unwrap();
            assert_ne!(other.sign(b"head"), signature);
        }
        let hmac = sealer.new_key("pvk_h", Algorithm::HmacSha256);
        assert!(hmac.public.is_none());
    }

    #[test]
    fn ml_dsa_signatures_are_hedged() {
        let key = TreeHeadSigner::ml_dsa_65(&[7; 32]);
        assert_ne!(key.sign(b"head"), key.sign(b"head"), "fresh randomness per signature");
        let TreeHeadSigner::MlDsa65(expanded) = &key else { unreachable!() };
        assert_eq!(ml_dsa_65_sign(expanded, b"head", &[1; 32]), ml_dsa_65_sign(expanded, b"head", &[1; 32]));
    }
}
