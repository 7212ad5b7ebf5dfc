//! The ML-DSA-65 tree-head signer against known answers (tests/data/):
//! key generation, signing and verification against NIST's ACVP vectors
//! (committed subsets of usnistgov/ACVP-Server's FIPS 204 keyGen, sigGen and
//! sigVer, each file naming its commit), signing against
//! @noble/post-quantum's signatures for the keyGen key (hedged with a given
//! rnd, and deterministic); and against aws-lc-rs's independent ML-DSA-65.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use argus_crypto::provenance::{ExpandedSigningKey, MlDsa65, TreeHeadSigner, ml_dsa_65_sign};
use argus_provenance::{VerifyKey, unhex};
use aws_lc_rs::signature::{KeyPair, ML_DSA_65, ML_DSA_65_SIGNING, PqdsaKeyPair, UnparsedPublicKey};
use ml_dsa::{Signature, VerifyingKey};
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
fn signing_matches_the_acvp_sig_gen_known_answers() {
    // ACVP's sigGen gives Sign_internal's M' as is, so this signs it without
    // ml_dsa_65_sign's pure-signing prefix (0, |ctx| = 0), which the test
    // below covers; rnd is zero, the deterministic variant.
    for test in vectors("acvp-ml-dsa-65-siggen.json") {
        let tc = &test["tcId"];
        #[allow(deprecated)] // the expanded encoding is what ACVP gives
        let key = ExpandedSigningKey::<MlDsa65>::from_expanded(bytes(&test, "sk").as_slice().try_into().unwrap());
        let message = bytes(&test, "message");
        let expected = bytes(&test, "signature");
        let signature = key.sign_internal(&[&message], &[0; 32].into()).encode().to_vec();
        assert_eq!(argus_provenance::hex(&signature), argus_provenance::hex(&expected), "tcId {tc}");

        let public = key.verifying_key();
        let parsed = Signature::<MlDsa65>::try_from(expected.as_slice()).unwrap();
        assert!(public.verify_internal(&message, &parsed), "tcId {tc}");
        let mut other = message.clone();
        other[0] ^= 1;
        assert!(!public.verify_internal(&other, &parsed), "tcId {tc}");
    }
}

#[test]
fn verification_matches_the_acvp_sig_ver_known_answers() {
    let tests = vectors("acvp-ml-dsa-65-sigver.json");
    // Both outcomes are in the subset, so neither answer passes alone.
    assert!(tests.iter().any(|test| test["testPassed"] == true));
    assert!(tests.iter().any(|test| test["testPassed"] == false));
    for test in tests {
        let tc = &test["tcId"];
        let public = bytes(&test, "pk");
        // The published form of the key round-trips.
        assert!(VerifyKey::ml_dsa_65(&public).is_some(), "tcId {tc}");
        let key = VerifyingKey::<MlDsa65>::decode(public.as_slice().try_into().unwrap());
        assert_eq!(key.encode().as_slice(), public.as_slice(), "tcId {tc}");
        // ACVP gives mu = H(tr || M', 64) itself (its external-mu interface).
        let mu: [u8; 64] = bytes(&test, "mu").try_into().unwrap();
        let verified = Signature::<MlDsa65>::try_from(bytes(&test, "signature").as_slice())
            .is_ok_and(|signature| key.verify_mu(&mu.into(), &signature));
        assert_eq!(verified, test["testPassed"].as_bool().unwrap(), "tcId {tc}");
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
