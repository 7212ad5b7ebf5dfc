//! The ML-DSA-65 tree-head signer against known answers (tests/data/):
//! key generation against NIST's ACVP vectors (a committed subset of
//! usnistgov/ACVP-Server's FIPS 204 keyGen), signing against
//! @noble/post-quantum's signatures for that key (hedged with a given rnd,
//! and deterministic); and against aws-lc-rs's independent ML-DSA-65.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use argus_crypto::provenance::{ExpandedSigningKey, MlDsa65, TreeHeadSigner, ml_dsa_65_sign};
use argus_provenance::{VerifyKey, unhex};
use aws_lc_rs::signature::{KeyPair, ML_DSA_65, ML_DSA_65_SIGNING, PqdsaKeyPair, UnparsedPublicKey};
use serde_json::Value;

fn vectors(file: &str) -> Vec<Value> {
    let path = format!("{}/tests/data/{file}", env!("CARGO_MANIFEST_DIR"));
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    doc["tests"].as_array().unwrap().clone()
}

fn bytes(test: &Value, field: &str) -> Vec<u8> {
    unhex(test[field].as_str().unwrap()).unwrap()
}

#[test]
fn key_generation_matches_the_acvp_known_answers() {
    for test in vectors("acvp-ml-dsa-65-keygen.json") {
        let seed: [u8; 32] = bytes(&test, "seed").try_into().unwrap();
        let key = TreeHeadSigner::ml_dsa_65(&seed);
        assert_eq!(key.public_key().unwrap(), bytes(&test, "pk"), "tcId {}", test["tcId"]);
        let TreeHeadSigner::MlDsa65(expanded) = &key else { unreachable!() };
        #[allow(deprecated)] // the expanded encoding, only to compare with NIST's
        let sk = expanded.to_expanded();
        assert_eq!(argus_provenance::hex(&sk), argus_provenance::hex(&bytes(&test, "sk")), "tcId {}", test["tcId"]);
    }
}

#[test]
fn signatures_match_an_independent_implementations_known_answers_and_verify() {
    let path = format!("{}/tests/data/ml-dsa-65-siggen-noble.json", env!("CARGO_MANIFEST_DIR"));
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    // The ACVP key, from its expanded encoding.
    #[allow(deprecated)]
    let key = ExpandedSigningKey::<MlDsa65>::from_expanded(bytes(&doc, "sk").as_slice().try_into().unwrap());
    let public = VerifyKey::ml_dsa_65(&bytes(&doc, "pk")).unwrap();
    let message = bytes(&doc, "message");
    for test in doc["tests"].as_array().unwrap() {
        let name = &test["name"];
        let rnd: [u8; 32] = bytes(test, "rnd").try_into().unwrap();
        let expected = bytes(test, "signature");
        assert_eq!(
            argus_provenance::hex(&ml_dsa_65_sign(&key, &message, &rnd)),
            argus_provenance::hex(&expected),
            "{name}"
        );

        // Verification of the known answer, and of any change to it.
        assert!(public.verify(&message, &expected), "{name}");
        let mut other = message.clone();
        other[0] ^= 1;
        assert!(!public.verify(&other, &expected));
        for at in [0, 1000, expected.len() - 100] {
            let mut forged = expected.clone();
            forged[at] ^= 0x10;
            assert!(!public.verify(&message, &forged), "byte {at} changed");
        }
        assert!(!public.verify(&message, &expected[..expected.len() - 1]));
    }
}

#[test]
fn aws_lc_rs_verifies_our_signatures_and_we_verify_its() {
    let ours = TreeHeadSigner::ml_dsa_65(&[42; 32]);
    let public = ours.public_key().unwrap();
    let message = br#"{"evidence_id":"evd_x","tree_size":1}"#;
    let signature = ours.sign(message);
    assert!(UnparsedPublicKey::new(&ML_DSA_65, &public).verify(message, &signature).is_ok());
    assert!(UnparsedPublicKey::new(&ML_DSA_65, &public).verify(b"other", &signature).is_err());

    let theirs = PqdsaKeyPair::generate(&ML_DSA_65_SIGNING).unwrap();
    let mut signature = vec![0; ML_DSA_65_SIGNING.signature_len()];
    let len = theirs.sign(message, &mut signature).unwrap();
    let key = VerifyKey::ml_dsa_65(theirs.public_key().as_ref()).unwrap();
    assert!(key.verify(message, &signature[..len]));
    assert!(!key.verify(b"other", &signature[..len]));
}
