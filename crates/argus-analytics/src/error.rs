use thiserror::Error;

/// A job input that cannot be run. `Display` names the field and the reason, so it can go into a 400 as is.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum InputError {
    /// The JSON does not have the input's shape (unknown field, unknown algorithm, wrong type...).
    #[error("invalid input: {0}")]
    Malformed(String),
    /// A field has a value outside what the job accepts.
    #[error("invalid input: `{field}` {reason}")]
    Invalid { field: String, reason: String },
}

impl InputError {
    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid { field: field.into(), reason: reason.into() }
    }
}

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
    Input(#[from] InputError),
}
