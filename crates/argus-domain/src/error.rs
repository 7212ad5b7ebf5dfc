use thiserror::Error;

/// A value the domain does not accept. `Display` names the field (or the
/// kind of value) and the reason, so it can go into a 400 as is.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DomainError {
    /// Text that is none of an enum's values.
    #[error("{what} must be one of {}, not `{value}`", .allowed.join(", "))]
    Unknown { what: &'static str, value: String, allowed: &'static [&'static str] },
    /// A job input without the input's shape (unknown field, wrong type...).
    #[error("invalid input: {0}")]
    Malformed(String),
    /// A job input field with a value outside what the job accepts.
    #[error("invalid input: `{field}` {reason}")]
    Invalid { field: String, reason: String },
}

impl DomainError {
    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid { field: field.into(), reason: reason.into() }
    }
}
