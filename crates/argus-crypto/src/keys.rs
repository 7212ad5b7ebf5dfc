//! RSA-2048 signing keys for RS256 access tokens. Keys are generated with
//! aws-lc-rs and stored as PKCS#8 PEM; jsonwebtoken signs with them through
//! [`crate::provider`], which keeps each key parsed.

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rsa::{KeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use serde::Serialize;

use crate::CryptoError;
use crate::jwk::Jwk;

const PKCS8_PEM_TAG: &str = "PRIVATE KEY";

/// A fresh RSA-2048 private key as PKCS#8 PEM.
pub fn generate_signing_key_pem() -> Result<String, CryptoError> {
    let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|_| CryptoError::KeyGeneration)?;
    let der: aws_lc_rs::encoding::Pkcs8V1Der<'static> =
        AsDer::<Pkcs8V1Der>::as_der(&pair).map_err(|_| CryptoError::KeyGeneration)?;
    Ok(pem::encode(&pem::Pem::new(PKCS8_PEM_TAG, der.as_ref().to_vec())))
}

/// A parsed signing key: the private half for signing, the public half as a
/// JWK and as a verification key.
#[derive(Clone)]
pub struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    jwk: Jwk,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl SigningKey {
    pub fn from_pkcs8_pem(kid: &str, pem_text: &str) -> Result<Self, CryptoError> {
        let parsed = pem::parse(pem_text).map_err(|e| CryptoError::BadKey(e.to_string()))?;
        if parsed.tag() != PKCS8_PEM_TAG {
            return Err(CryptoError::BadKey(format!("expected a {PKCS8_PEM_TAG} PEM block")));
        }
        let pair = KeyPair::from_pkcs8(parsed.contents()).map_err(|e| CryptoError::BadKey(e.to_string()))?;
        let public = PublicKeyComponents::<Vec<u8>>::from(pair.public_key());
        let encoding =
            EncodingKey::from_rsa_pem(pem_text.as_bytes()).map_err(|e| CryptoError::BadKey(e.to_string()))?;
        let decoding = DecodingKey::from_rsa_raw_components(&public.n, &public.e);
        // Signing skips re-parsing this key from now on (see `provider`).
        crate::provider::register(encoding.as_bytes(), pair);
        let jwk = Jwk {
            kty: "RSA".into(),
            kid: kid.to_owned(),
            use_: "sig".into(),
            alg: "RS256".into(),
            n: URL_SAFE_NO_PAD.encode(&public.n),
            e: URL_SAFE_NO_PAD.encode(&public.e),
        };
        Ok(Self { kid: kid.to_owned(), encoding, decoding, jwk })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn jwk(&self) -> &Jwk {
        &self.jwk
    }

    pub fn decoding_key(&self) -> &DecodingKey {
        &self.decoding
    }

    /// Signs `claims` as an RS256 JWT with `typ` and this key's `kid` in the header.
    pub fn sign<T: Serialize>(&self, typ: &str, claims: &T) -> Result<String, CryptoError> {
        let mut header = Header::new(Algorithm::RS256);
        header.typ = Some(typ.to_owned());
        header.kid = Some(self.kid.clone());
        Ok(jsonwebtoken::encode(&header, claims, &self.encoding)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{Validation, decode};
    use serde::Deserialize;

    #[derive(Serialize, Deserialize)]
    struct Claims {
        sub: String,
        exp: u64,
    }

    #[test]
    fn generated_key_signs_and_its_jwk_verifies() {
        let pem_text = generate_signing_key_pem().unwrap();
        let key = SigningKey::from_pkcs8_pem("k1", &pem_text).unwrap();
        let token = key.sign("at+jwt", &Claims { sub: "s".into(), exp: 4_000_000_000 }).unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.kid.as_deref(), Some("k1"));
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        let from_jwk = DecodingKey::from_rsa_components(&key.jwk().n, &key.jwk().e).unwrap();
        let mut validation = Validation::new(Algorithm::RS256);
        validation.required_spec_claims.clear();
        let data = decode::<Claims>(&token, &from_jwk, &validation).unwrap();
        assert_eq!(data.claims.sub, "s");
        assert_eq!(key.jwk().e, "AQAB");
    }

    #[test]
    fn signing_keys_stay_parsed_for_the_signer() {
        let key = SigningKey::from_pkcs8_pem("k2", &generate_signing_key_pem().unwrap()).unwrap();
        assert!(crate::provider::lookup(key.encoding.as_bytes()).is_some());
        let other = EncodingKey::from_rsa_pem(generate_signing_key_pem().unwrap().as_bytes()).unwrap();
        assert!(crate::provider::lookup(other.as_bytes()).is_none(), "only registered keys");
    }

    #[test]
    fn garbage_pem_is_refused() {
        assert!(SigningKey::from_pkcs8_pem("k", "nope").is_err());
    }
}
