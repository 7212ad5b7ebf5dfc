//! PKCE (RFC 7636) checks on the server side. Only S256 is accepted;
//! `plain` is refused. The S256 transform is base64url(SHA-256(verifier))
//! with ring and base64, which every binary links already: the `oauth2`
//! client crate was once linked for this transform alone.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

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
    let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
    let computed = URL_SAFE_NO_PAD.encode(digest.as_ref());
    argus_crypto::equal_constant_time(computed.as_bytes(), challenge.as_bytes())
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

    /// RFC 7636 §4.2 as the appendix B vector above pins it down.
    fn s256(verifier: &str) -> String {
        URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()).as_ref())
    }

    proptest::proptest! {
        #[test]
        fn pkce_verification_never_panics(
            verifier in proptest::prop_oneof![proptest::prelude::any::<String>(), "[A-Za-z0-9._~é-]{40,130}"],
            challenge in proptest::prop_oneof![proptest::prelude::any::<String>(), "[A-Za-z0-9_é-]{40,50}"],
        ) {
            let _ = well_formed(&verifier);
            let _ = verifier_matches(&verifier, &challenge);
            proptest::prop_assert_eq!(verifier_matches(&verifier, &s256(&verifier)), well_formed(&verifier));
        }

        #[test]
        fn well_formed_verifiers_match_their_challenge_only(
            verifier in "[A-Za-z0-9._~-]{43,128}",
            other in "[A-Za-z0-9_-]{43}",
        ) {
            proptest::prop_assert!(verifier_matches(&verifier, &s256(&verifier)));
            proptest::prop_assume!(other != s256(&verifier));
            proptest::prop_assert!(!verifier_matches(&verifier, &other));
        }
    }
}
