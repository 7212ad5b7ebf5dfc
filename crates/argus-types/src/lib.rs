//! Wire types shared by every Argus binary. No I/O lives here.

pub mod app;
pub mod claims;
pub mod env;
pub mod ids;
pub mod pagination;
pub mod problem;
pub mod scopes;
pub mod ssrf;
pub mod traces;

pub use app::{ClientType, Governance, GrantType};
pub use claims::AccessClaims;
pub use ids::{
    CaseId, ClientId, DeliveryId, EntityId, EventId, GrantId, IdError, IncidentId, JobId, KeyId, RelationshipId,
    SecretId, TenantId, UserId, WebhookId,
};
pub use problem::ProblemKind;
pub use scopes::{SCOPE_CATALOG, Scope, ScopeSet};
