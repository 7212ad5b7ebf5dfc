//! `argusctl provenance`: the tenant's tree-head keys for its admin, their
//! rotation, and the verification of a saved transcript with no server
//! (argus-provenance, as the SDK verifies).

use std::path::{Path, PathBuf};

use argus_crypto::provenance::ProvenanceSealer;
use argus_provenance::{Algorithm, EarlierHead, Jwk, JwkSet, Transcript, verify_offline};
use argus_store::{Store, StoreConfig, StoreError};
use clap::Subcommand;
use serde_json::{Value, json};

use crate::{CtlError, existing_tenant};

#[derive(Subcommand)]
pub enum ProvenanceCommand {
    /// The tenant's tree-head keys, current and retired, as a JWK set:
    /// what verifies its transcripts offline (`argusctl provenance verify
    /// --key`). HMAC-SHA256 keys with their secret bytes (`kty: "oct"`,
    /// `k`): never published, hand them to the tenant admin only;
    /// ML-DSA-65 keys with their public key (`kty: "AKP"`, `pub`).
    Keys {
        /// The tenant's id (`ten_...`).
        #[arg(long)]
        tenant: String,
    },
    /// Retire the tenant's current key (heads it signed stay verifiable)
    /// and sign from now on with a new one; prints the new key's id.
    RotateKey {
        /// The tenant's id (`ten_...`).
        #[arg(long)]
        tenant: String,
    },
    /// Verify a saved transcript with no server: FILE is what
    /// `GET /v1/evidence/{evidence_id}/provenance` answered (or its
    /// `transcript`). Checks every entry's leaf hash, the hash chain, the
    /// numbering, every tree head's root and signature, the inclusion
    /// proofs and, with --earlier-size and --earlier-root, that it extends
    /// a tree head held earlier. Prints the checks and every failure,
    /// naming the entry; exits 1 unless everything passed.
    Verify {
        file: PathBuf,
        /// The keys, as a JWK set: for ML-DSA-65 the published set
        /// (`/.well-known/provenance-keys/ml-dsa-65?tenant=ten_...`), for
        /// HMAC-SHA256 what `argusctl provenance keys` prints. Without it no
        /// signature verifies (each head's key is unknown).
        #[arg(long)]
        key: Option<PathBuf>,
        /// The size of a tree head held earlier.
        #[arg(long, requires = "earlier_root")]
        earlier_size: Option<i64>,
        /// Its root hash (hex).
        #[arg(long, requires = "earlier_size")]
        earlier_root: Option<String>,
    },
}

/// Seals and opens provenance keys with `ARGUS_SECRET_PEPPER`, as the
/// api-service does.
pub(crate) fn sealer() -> ProvenanceSealer {
    let pepper = std::env::var("ARGUS_SECRET_PEPPER").unwrap_or_else(|_| argus_crypto::DEV_PEPPER.to_owned());
    ProvenanceSealer::new(pepper.as_bytes())
}

pub(crate) async fn run(command: ProvenanceCommand, store_config: &StoreConfig) -> Result<Value, CtlError> {
    if let ProvenanceCommand::Verify { file, key, earlier_size, earlier_root } = command {
        let earlier = earlier_size.zip(earlier_root).map(|(tree_size, root_hash)| EarlierHead { tree_size, root_hash });
        return verify(&file, key.as_deref(), earlier.as_ref());
    }
    let store = Store::connect(store_config)?;
    let sealer = sealer();
    match command {
        ProvenanceCommand::Keys { tenant } => {
            let tenant = existing_tenant(&store, &tenant).await?;
            let mut keys = Vec::new();
            for k in store.stored_provenance_keys(&tenant).await? {
                let jwk = match (k.algorithm, &k.public_key) {
                    (Algorithm::MlDsa65, Some(public)) => Jwk::ml_dsa_65(&k.id, public),
                    _ => Jwk::hmac_sha256(&k.id, &sealer.open_secret(&k.id, &k.sealed_key).map_err(StoreError::from)?),
                };
                let mut key = serde_json::to_value(jwk).map_err(|e| CtlError::Input(e.to_string()))?;
                key["algorithm"] = json!(k.algorithm.as_str());
                key["created_at"] = json!(k.created_at);
                key["retired_at"] = json!(k.retired_at);
                keys.push(key);
            }
            Ok(json!({ "tenant_id": tenant, "keys": keys }))
        }
        ProvenanceCommand::RotateKey { tenant } => {
            let tenant = existing_tenant(&store, &tenant).await?;
            let current = store.rotate_provenance_key(&tenant, &sealer).await?;
            Ok(json!({ "tenant_id": tenant, "current": current }))
        }
        ProvenanceCommand::Verify { .. } => Err(CtlError::Input("verify needs no database".into())),
    }
}

/// The largest file `verify` reads: a transcript of ~100,000 entries.
const MAX_FILE_BYTES: u64 = 256 << 20;

fn read_json(file: &Path) -> Result<Value, CtlError> {
    let bad = |e: String| CtlError::Input(format!("{}: {e}", file.display()));
    let size = std::fs::metadata(file).map_err(|e| bad(e.to_string()))?.len();
    if size > MAX_FILE_BYTES {
        return Err(bad(format!("over {MAX_FILE_BYTES} bytes")));
    }
    let text = std::fs::read(file).map_err(|e| bad(e.to_string()))?;
    serde_json::from_slice(&text).map_err(|e| bad(format!("not JSON: {e}")))
}

/// `argusctl provenance verify`: no server, no database.
fn verify(file: &Path, key: Option<&Path>, earlier: Option<&EarlierHead>) -> Result<Value, CtlError> {
    let document = read_json(file)?;
    let transcript = document.get("transcript").cloned().unwrap_or(document);
    let transcript: Transcript = serde_json::from_value(transcript)
        .map_err(|e| CtlError::Input(format!("{}: not a provenance transcript: {e}", file.display())))?;
    let keys: JwkSet = match key {
        Some(k) => serde_json::from_value(read_json(k)?)
            .map_err(|e| CtlError::Input(format!("{}: not a JWK set: {e}", k.display())))?,
        None => JwkSet::default(),
    };
    let verification = verify_offline(&transcript, earlier, &keys);
    let answer = serde_json::to_value(&verification).map_err(|e| CtlError::Input(e.to_string()))?;
    if verification.valid { Ok(answer) } else { Err(CtlError::Unverified(answer)) }
}
