//! The GraphQL schema over the incident and case domain. Every resolver
//! checks the token's scope itself, so a missing scope fails that field
//! only (`FORBIDDEN`) and the rest of the operation still answers; for
//! that, every resolver that can fail is nullable (a non-null field's error
//! would null its parent, up to the whole `data`).

/// The GraphQL face of a domain enum: an enum of the same variants,
/// converted both ways, so a stored value always has its GraphQL value and
/// back.
macro_rules! graphql_mirror_enum {
    ($name:ident { $($variant:ident),+ }) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, juniper::GraphQLEnum)]
        pub enum $name {
            $($variant),+
        }

        impl From<argus_domain::$name> for $name {
            fn from(value: argus_domain::$name) -> Self {
                match value {
                    $(argus_domain::$name::$variant => Self::$variant),+
                }
            }
        }

        impl From<$name> for argus_domain::$name {
            fn from(value: $name) -> Self {
                match value {
                    $($name::$variant => Self::$variant),+
                }
            }
        }
    };
}

mod acqi;
mod evidence;
mod mutation;
mod query;
mod types;

use argus_authn::Principal;
use argus_store::{PageRequest, Store, StoreError};
use juniper::{EmptySubscription, FieldError, ID, IntoFieldError, RootNode, ScalarValue, graphql_value};

use super::IncidentCache;

pub use acqi::{AcqiIndicator, AcqiInterval, AcqiMetrics};
pub use evidence::{CreateEvidenceInput, Evidence, EvidenceEntry, EvidenceOperation, RecordEvidenceOperationInput};
pub use mutation::Mutation;
pub use query::Query;
pub use types::*;

/// Largest page a list field returns.
pub const MAX_PAGE: i32 = 100;
const DEFAULT_PAGE: i32 = 20;
/// Most relationships listed on one entity.
const MAX_RELATIONSHIPS: i32 = 200;

pub type Schema = RootNode<Query, Mutation, EmptySubscription<Ctx>>;

pub fn schema() -> Schema {
    // Introspection is refused before execution with its own error code;
    // disabling it here too means no path reaches the schema dump.
    Schema::new(Query, Mutation, EmptySubscription::new()).disable_introspection()
}

/// What every resolver gets: the store, the verified caller, the
/// incidents' cache and the operation running.
pub struct Ctx {
    pub store: Store,
    pub principal: Principal,
    pub incidents: IncidentCache,
    pub operation: RunningOperation,
    /// Seals and opens the keys that sign evidence transcripts.
    pub provenance: argus_crypto::provenance::ProvenanceSealer,
}

/// The approved document running and the operation name the request gave:
/// what an access log names a read by.
pub struct RunningOperation {
    pub document: std::sync::Arc<str>,
    pub requested_name: Option<String>,
}

impl RunningOperation {
    /// `graphql` and the operation's name (`graphql EncounterById`): the
    /// requested one, else the document's own (a bundle document is one
    /// named operation). Worked out only when a resolver asks.
    pub fn access_route(&self) -> String {
        let name = self.requested_name.as_deref().or_else(|| super::document::operation_name(&self.document));
        format!("graphql {}", name.unwrap_or("anonymous"))
    }
}

impl juniper::Context for Ctx {}

/// A GraphQL error with its `extensions.code`.
#[derive(Debug)]
pub struct GqlError {
    pub code: &'static str,
    pub message: String,
}

impl GqlError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }

    fn not_found(what: impl std::fmt::Display) -> Self {
        Self::new("NOT_FOUND", format!("{what} not found"))
    }
}

impl<S: ScalarValue> IntoFieldError<S> for GqlError {
    fn into_field_error(self) -> FieldError<S> {
        let code = self.code;
        FieldError::new(self.message, graphql_value!({ "code": code }))
    }
}

impl From<StoreError> for GqlError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => Self::new("NOT_FOUND", format!("{what} not found")),
            StoreError::Conflict(m) => Self::new("CONFLICT", m),
            StoreError::Invalid(fields) => Self::new("BAD_USER_INPUT", fields.to_string()),
            StoreError::Pool(_) => Self::new("SERVICE_UNAVAILABLE", "the database is unavailable; retry later"),
            StoreError::Query(diesel_error) if is_check_violation(&diesel_error) => {
                Self::new("BAD_USER_INPUT", "a value is out of range (titles and names: 1 to 500 characters)")
            }
            other => {
                tracing::error!(error = %other, "store error in a resolver");
                Self::new("INTERNAL_SERVER_ERROR", "internal error")
            }
        }
    }
}

fn is_check_violation(e: &diesel::result::Error) -> bool {
    matches!(e, diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::CheckViolation, _))
}

type GqlResult<T> = Result<T, GqlError>;

impl Ctx {
    /// The caller holds `scope` (or its write scope, which implies it).
    fn require(&self, scope: &'static str) -> GqlResult<()> {
        if self.principal.has(scope) {
            Ok(())
        } else {
            Err(GqlError::new("FORBIDDEN", format!("the token lacks the scope `{scope}`")))
        }
    }

    fn tenant(&self) -> &argus_types::TenantId {
        &self.principal.tenant
    }
}

/// The record asked for by `id`, as its GraphQL object, or `NOT_FOUND`
/// naming the id.
fn found<R, T: From<R>>(record: Option<R>, id: &impl std::fmt::Display) -> GqlResult<Option<T>> {
    record.map(|r| Some(T::from(r))).ok_or_else(|| GqlError::not_found(id))
}

fn parse_id<T: std::str::FromStr>(id: &ID, what: &str) -> GqlResult<T> {
    id.parse().map_err(|_| GqlError::new("BAD_USER_INPUT", format!("`{id}` is not a {what} id")))
}

/// A connection's `first` and `after` (an id of the list, as its
/// `nextCursor` gave it) as the store's page request.
fn page_request<T: std::str::FromStr>(first: Option<i32>, after: Option<String>) -> GqlResult<PageRequest<T>> {
    let after = after
        .map(|a| {
            a.parse().map_err(|_| GqlError::new("BAD_USER_INPUT", format!("`{a}` is not a cursor from this list")))
        })
        .transpose()?;
    let first = first.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&first) {
        return Err(GqlError::new("BAD_USER_INPUT", format!("`first` must be between 1 and {MAX_PAGE}")));
    }
    let limit = usize::try_from(first).map_err(|_| GqlError::new("BAD_USER_INPUT", "bad `first`"))?;
    Ok(PageRequest { after, limit })
}

fn bounded(field: &str, value: &str, max: usize) -> GqlResult<()> {
    if value.trim().is_empty() || value.chars().count() > max {
        return Err(GqlError::new("BAD_USER_INPUT", format!("`{field}` must be 1 to {max} characters")));
    }
    Ok(())
}
