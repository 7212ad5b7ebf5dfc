//! A jsonwebtoken `CryptoProvider` that keeps RSA signing keys parsed.
//!
//! jsonwebtoken's aws-lc-rs backend builds an `RsaKeyPair` from the key's
//! DER on every signature; parsing and checking a 2048-bit key is a large
//! share of an RS256 signature's cost. [`SigningKey`](crate::SigningKey)
//! registers its parsed pair here, keyed by the DER jsonwebtoken hands the
//! signer factory, and RS256 signatures with a registered key skip the
//! parse. Everything else (other algorithms, unregistered keys,
//! verification) goes to the stock aws-lc-rs provider unchanged.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Once, RwLock};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, aws_lc};
use jsonwebtoken::signature::{Error as SignatureError, Signer};
use jsonwebtoken::{Algorithm, EncodingKey};

/// Parsed keys at most; a process holds a handful (current, next, retired).
const MAX_KEYS: usize = 64;

static PARSED: LazyLock<RwLock<HashMap<Vec<u8>, Arc<RsaKeyPair>>>> = LazyLock::new(RwLock::default);

static PROVIDER: LazyLock<CryptoProvider> =
    LazyLock::new(|| CryptoProvider { signer_factory: signer, ..aws_lc::DEFAULT_PROVIDER.clone() });

static INSTALL: Once = Once::new();

/// Installs the provider as jsonwebtoken's default, once per process. If
/// another default was installed first, signing still works, parsing the
/// key each time.
pub(crate) fn install() {
    INSTALL.call_once(|| {
        let _already_installed = PROVIDER.install_default();
    });
}

/// Keeps `pair`, parsed from the PKCS#1 `der` that `EncodingKey` holds.
pub(crate) fn register(der: &[u8], pair: RsaKeyPair) {
    install();
    let mut parsed = match PARSED.write() {
        Ok(p) => p,
        Err(poisoned) => poisoned.into_inner(),
    };
    if parsed.contains_key(der) {
        return;
    }
    if parsed.len() >= MAX_KEYS {
        parsed.clear();
    }
    parsed.insert(der.to_vec(), Arc::new(pair));
}

pub(crate) fn lookup(der: &[u8]) -> Option<Arc<RsaKeyPair>> {
    match PARSED.read() {
        Ok(p) => p.get(der).cloned(),
        Err(poisoned) => poisoned.into_inner().get(der).cloned(),
    }
}

fn signer(algorithm: &Algorithm, key: &EncodingKey) -> jsonwebtoken::errors::Result<Box<dyn JwtSigner>> {
    if *algorithm == Algorithm::RS256
        && let Some(pair) = lookup(key.as_bytes())
    {
        return Ok(Box::new(ParsedRs256(pair)));
    }
    (aws_lc::DEFAULT_PROVIDER.signer_factory)(algorithm, key)
}

struct ParsedRs256(Arc<RsaKeyPair>);

impl Signer<Vec<u8>> for ParsedRs256 {
    fn try_sign(&self, message: &[u8]) -> Result<Vec<u8>, SignatureError> {
        let mut signature = vec![0; self.0.public_modulus_len()];
        self.0
            .sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), message, &mut signature)
            .map_err(|_| SignatureError::new())?;
        Ok(signature)
    }
}

impl JwtSigner for ParsedRs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::RS256
    }
}
