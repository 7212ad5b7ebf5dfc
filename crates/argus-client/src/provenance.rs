//! Evidence provenance, verified offline: a saved transcript (from
//! [`ArgusClient::evidence_provenance`](crate::ArgusClient::evidence_provenance))
//! checked against the published keys with no call to the server, by the
//! same code the api-service verifies with (`argus-provenance`).
//!
//! ```no_run
//! # async fn run(client: argus_client::ArgusClient) -> argus_client::Result<()> {
//! use argus_client::provenance::{Algorithm, verify_offline};
//!
//! let saved = client.evidence_provenance("evd_01J…").await?;
//! // Each entry names its tenant, whose published keys verify its heads.
//! let tenant = saved.transcript.entries[0].entry.tenant_id.as_str();
//! let keys = client.provenance_keys(Algorithm::MlDsa65, tenant).await?;
//! let verification = verify_offline(&saved.transcript, None, &keys);
//! assert!(verification.valid, "{:?}", verification.failures);
//! # Ok(()) }
//! ```

pub use argus_provenance::transcript::ConsistencyProof;
pub use argus_provenance::verify::{Check, Failure};
pub use argus_provenance::{
    Algorithm, EarlierHead, Jwk, JwkSet, Tampering, Transcript, TreeHead, Verification, verify_offline,
};
