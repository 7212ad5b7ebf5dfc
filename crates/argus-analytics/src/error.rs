use thiserror::Error;

/// Why a computation stopped without a result.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ComputeError {
    /// The progress callback asked to stop.
    #[error("cancelled")]
    Cancelled,
    /// An entity named in the input is not in the graph (or was filtered out when it was loaded).
    #[error("unknown entity: {0}")]
    UnknownEntity(String),
    /// The input did not validate.
    #[error(transparent)]
    Input(#[from] argus_domain::DomainError),
}
