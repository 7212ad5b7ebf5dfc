//! Wire types shared by every Argus binary. No I/O lives here.

pub mod app;
pub mod claims;
pub mod env;
pub mod environment;
pub mod ids;
pub mod pagination;
pub mod problem;
pub mod scopes;
pub mod ssrf;
pub mod traces;

pub use app::{ClientType, Governance, GrantType};
pub use claims::AccessClaims;
pub use environment::Environment;
pub use ids::{
    CaseId, ClientId, DeliveryId, DeviceId, EncounterId, EntityId, EventId, EvidenceId, GrantId, IdError, IncidentId,
    JobId, KeyId, ObservationId, OutboxRequestId, ProvenanceKeyId, RelationshipId, SecretId, TenantId, TimeOrderedId,
    UserId, WebhookId,
};
pub use problem::ProblemKind;
pub use scopes::{SCOPE_CATALOG, Scope, ScopeSet};

/// `raw` as one of an enum's text forms (`names`, every one it accepts);
/// else the message for a 400: "`what` must be one of …".
pub fn parse_one_of<T: std::str::FromStr>(what: &str, raw: &str, names: &[&str]) -> Result<T, String> {
    raw.parse().map_err(|_| format!("{what} must be one of {}", names.join(", ")))
}
