//! PKCE (RFC 7636) checks on the server side, using the oauth2 crate's S256
//! transform. Only S256 is accepted; `plain` is refused.

use oauth2::{PkceCodeChallenge, PkceCodeVerifier};

/// RFC 7636 §4.1 and §4.2: 43 to 128 unreserved characters.
pub fn well_formed(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Whether `verifier` hashes (S256) to `challenge`, compared in constant time.
pub fn verifier_matches(verifier: &str, challenge: &str) -> bool {
    if !well_formed(verifier) {
        return false;
    }
    let computed = PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(verifier.to_owned()));
    #[allow(deprecated)]
    ring::constant_time::verify_slices_are_equal(computed.as_str().as_bytes(), challenge.as_bytes()).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b_vector() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(verifier_matches(verifier, challenge));
        assert!(!verifier_matches("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj", challenge));
        assert!(!verifier_matches("short", challenge));
    }
}
