//! Tree-head signature algorithms, the keys that verify heads, and the
//! JWK-style sets keys travel in: ML-DSA-65 public keys as
//! `GET /.well-known/provenance-keys/ml-dsa-65` publishes them
//! (`kty: "AKP"`, `alg: "ML-DSA-65"`, `pub`, draft-ietf-cose-dilithium),
//! HMAC-SHA256 keys as `argusctl provenance keys` exports them to the
//! tenant admin (`kty: "oct"`, `alg: "HS256"`, `k`, RFC 7518 §6.4).

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use ml_dsa::{EncodedVerifyingKey, MlDsa65, Signature, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::named::named_enum;

named_enum! {
    /// How a tree head is signed: the `algorithm` a head carries.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum Algorithm {
        /// HMAC-SHA256 with the tenant's secret key: the default.
        HmacSha256 = "hmac-sha256",
        /// ML-DSA-65 (FIPS 204), pure, empty context: a tenant's opt-in.
        MlDsa65 = "ml-dsa-65",
    }
    /// A name that is no tree-head algorithm.
    pub struct UnknownAlgorithm("no provenance algorithm `{}` (known: hmac-sha256, ml-dsa-65)");
}

impl Algorithm {
    pub const ALL: [Self; 2] = [Self::HmacSha256, Self::MlDsa65];

    /// The JOSE `alg` its keys carry in a JWK.
    pub const fn jwk_alg(self) -> &'static str {
        match self {
            Self::HmacSha256 => "HS256",
            Self::MlDsa65 => "ML-DSA-65",
        }
    }
}

/// The length of an encoded ML-DSA-65 public key, in bytes.
pub const ML_DSA_65_PUBLIC_KEY_LEN: usize = 1952;

/// A key that verifies tree heads.
#[derive(Clone)]
pub enum VerifyKey {
    HmacSha256(Vec<u8>),
    MlDsa65(Box<VerifyingKey<MlDsa65>>),
}

impl fmt::Debug for VerifyKey {
    // Never the HMAC key's bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("VerifyKey").field(&self.algorithm()).finish()
    }
}

impl VerifyKey {
    /// An ML-DSA-65 key from its encoding (FIPS 204 pkEncode, 1952 bytes);
    /// `None` for any other length.
    pub fn ml_dsa_65(public: &[u8]) -> Option<Self> {
        let encoded = EncodedVerifyingKey::<MlDsa65>::try_from(public).ok()?;
        Some(Self::MlDsa65(Box::new(VerifyingKey::decode(&encoded))))
    }

    pub fn algorithm(&self) -> Algorithm {
        match self {
            Self::HmacSha256(_) => Algorithm::HmacSha256,
            Self::MlDsa65(_) => Algorithm::MlDsa65,
        }
    }

    /// Whether `signature` is this key's over `message` (HMAC compared in
    /// constant time; ML-DSA-65 with the empty context).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match self {
            Self::HmacSha256(key) => Hmac::<Sha256>::new_from_slice(key).is_ok_and(|mut mac| {
                mac.update(message);
                mac.verify_slice(signature).is_ok()
            }),
            Self::MlDsa65(key) => {
                Signature::<MlDsa65>::try_from(signature).is_ok_and(|s| key.verify_with_context(message, &[], &s))
            }
        }
    }
}

/// One key as a JWK: `kty`, `alg`, `kid` and the key (`pub` for an
/// ML-DSA-65 public key, `k` for an HMAC secret), base64url without
/// padding. Other members (an exporter's `created_at`, say) are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
// Named apart from the auth-service's RSA `Jwk`: the partner contract
// merges both hosts' components, and one name must mean one schema.
#[schema(as = ProvenanceJwk)]
pub struct Jwk {
    /// `AKP` (ML-DSA-65) or `oct` (HMAC-SHA256).
    pub kty: String,
    /// `ML-DSA-65` or `HS256`.
    pub alg: String,
    /// The key id tree heads name (`key_id`).
    pub kid: String,
    /// The ML-DSA-65 public key (FIPS 204 pkEncode), base64url.
    #[serde(rename = "pub", default, skip_serializing_if = "Option::is_none")]
    pub public: Option<String>,
    /// The HMAC-SHA256 secret, base64url: never published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k: Option<String>,
}

impl Jwk {
    /// An ML-DSA-65 public key.
    pub fn ml_dsa_65(kid: &str, public: &[u8]) -> Self {
        Self {
            kty: "AKP".into(),
            alg: Algorithm::MlDsa65.jwk_alg().into(),
            kid: kid.into(),
            public: Some(URL_SAFE_NO_PAD.encode(public)),
            k: None,
        }
    }

    /// An HMAC-SHA256 secret key: for the tenant admin only.
    pub fn hmac_sha256(kid: &str, secret: &[u8]) -> Self {
        Self {
            kty: "oct".into(),
            alg: Algorithm::HmacSha256.jwk_alg().into(),
            kid: kid.into(),
            public: None,
            k: Some(URL_SAFE_NO_PAD.encode(secret)),
        }
    }

    /// The key, if this is a well-formed key of a tree-head algorithm.
    pub fn verify_key(&self) -> Option<VerifyKey> {
        match (self.kty.as_str(), self.alg.as_str()) {
            ("AKP", "ML-DSA-65") => VerifyKey::ml_dsa_65(&URL_SAFE_NO_PAD.decode(self.public.as_deref()?).ok()?),
            ("oct", "HS256") => {
                let secret = URL_SAFE_NO_PAD.decode(self.k.as_deref()?).ok()?;
                (!secret.is_empty()).then_some(VerifyKey::HmacSha256(secret))
            }
            _ => None,
        }
    }
}

/// A set of keys: `{"keys": [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = ProvenanceJwkSet)]
pub struct JwkSet {
    pub keys: Vec<Jwk>,
}

impl JwkSet {
    /// The key `kid`, if the set has it and it is well-formed.
    pub fn find(&self, kid: &str) -> Option<VerifyKey> {
        self.keys.iter().find(|k| k.kid == kid).and_then(Jwk::verify_key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithms_parse_from_their_names() {
        for a in Algorithm::ALL {
            assert_eq!(a.as_str().parse::<Algorithm>(), Ok(a));
        }
        assert!("HS256".parse::<Algorithm>().is_err());
    }

    #[test]
    fn an_hmac_key_verifies_its_own_tags_only() {
        // RFC 4231 test case 2.
        let key = VerifyKey::HmacSha256(b"Jefe".to_vec());
        let tag = crate::unhex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843").unwrap();
        assert!(key.verify(b"what do ya want for nothing?", &tag));
        assert!(!key.verify(b"what do ya want for nothing!", &tag));
        assert!(!key.verify(b"what do ya want for nothing?", &tag[..31]));
        let set = JwkSet { keys: vec![Jwk::hmac_sha256("pvk_a", b"Jefe")] };
        assert!(set.find("pvk_a").unwrap().verify(b"what do ya want for nothing?", &tag));
        assert!(set.find("pvk_b").is_none());
    }

    #[test]
    fn malformed_keys_are_no_keys() {
        assert!(VerifyKey::ml_dsa_65(&[0; 10]).is_none());
        let mut jwk = Jwk::ml_dsa_65("pvk_a", &[7; ML_DSA_65_PUBLIC_KEY_LEN]);
        assert!(jwk.verify_key().is_some());
        jwk.public = Some("!!".into());
        assert!(jwk.verify_key().is_none());
        let wrong_alg = Jwk { alg: "HS256".into(), ..Jwk::ml_dsa_65("pvk_a", &[7; ML_DSA_65_PUBLIC_KEY_LEN]) };
        assert!(wrong_alg.verify_key().is_none());
        assert!(Jwk::hmac_sha256("pvk_a", b"").verify_key().is_none());
    }
}
