//! The one error type of the SDK.

use serde::Deserialize;
use serde_json::{Map, Value};

/// An RFC 9457 problem details body, as both hosts answer failed REST calls.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Problem {
    /// A stable URI per kind of failure (`https://knogin.com/api/problems/…`):
    /// switch on this, not on `title`.
    #[serde(rename = "type", default)]
    pub type_uri: Option<String>,
    /// A short, human-readable summary of the kind of failure.
    #[serde(default)]
    pub title: Option<String>,
    /// The HTTP status the server sent.
    #[serde(default)]
    pub status: Option<u16>,
    /// What went wrong with this request.
    #[serde(default)]
    pub detail: Option<String>,
    /// The members beyond the standard ones (`invalid-params`, …).
    #[serde(flatten)]
    pub extensions: Map<String, Value>,
}

/// An RFC 6749 §5.2 error from the token, revocation or introspection endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OAuthError {
    /// The RFC 6749 code: `invalid_client`, `invalid_grant`, `slow_down`, …
    pub error: String,
    /// The server's explanation.
    #[serde(default)]
    pub error_description: Option<String>,
}

/// One entry of a GraphQL response's `errors`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct GraphQlError {
    /// The server's message.
    pub message: String,
    /// `extensions.code` (`PERSISTED_QUERY_NOT_FOUND`, `FORBIDDEN`, …).
    #[serde(default)]
    pub extensions: Map<String, Value>,
}

impl GraphQlError {
    /// The error's `extensions.code`, if it has one.
    pub fn code(&self) -> Option<&str> {
        self.extensions.get("code").and_then(Value::as_str)
    }
}

/// Why a token, a webhook or a response was refused.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request could not be sent or its answer not read (connection,
    /// TLS, timeout).
    #[error("HTTP transport: {0}")]
    Transport(#[from] reqwest::Error),
    /// A REST call failed with a problem+json body.
    #[error("HTTP {status}: {}", problem.detail.as_deref().or(problem.title.as_deref()).unwrap_or("no detail"))]
    Api {
        /// The response's status code.
        status: u16,
        /// The problem details the server sent.
        problem: Box<Problem>,
    },
    /// The token endpoint (or revocation, introspection) refused the request.
    #[error("OAuth error {} (HTTP {status}): {}", error.error, error.error_description.as_deref().unwrap_or(""))]
    OAuth {
        /// The response's status code.
        status: u16,
        /// The RFC 6749 error body.
        error: OAuthError,
    },
    /// A GraphQL response carried `errors`.
    #[error("GraphQL errors: {}", errors.iter().map(|e| e.code().unwrap_or(&e.message)).collect::<Vec<_>>().join(", "))]
    GraphQl {
        /// The response's errors.
        errors: Vec<GraphQlError>,
        /// The response's `data`, which may be partial.
        data: Option<Value>,
    },
    /// A failure answer that is neither problem+json nor an OAuth error.
    #[error("HTTP {status}: {body}")]
    Unexpected {
        /// The response's status code.
        status: u16,
        /// The start of the body (at most 4 KiB), lossily decoded.
        body: String,
    },
    /// A success answer whose body did not have the expected shape.
    #[error("the response body did not parse: {0}")]
    Decode(#[from] serde_json::Error),
    /// An access token did not verify.
    #[error("the token is not valid: {0}")]
    Token(String),
    /// The JWKS could not be fetched or read.
    #[error("the JWKS is unusable: {0}")]
    Jwks(String),
    /// A webhook (or a job callback) is not authentic or not fresh.
    #[error("the webhook is not authentic: {0}")]
    Webhook(&'static str),
    /// The SDK was configured with an unusable value (a base URL, a secret).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A job ended in `failed` or `cancelled`, or did not end in time.
    #[error("job {id} did not succeed: {reason}")]
    Job {
        /// The job's id.
        id: String,
        /// Its final status and error, or that the wait ran out.
        reason: String,
    },
}

impl Error {
    /// The HTTP status of a failed call, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } | Self::OAuth { status, .. } | Self::Unexpected { status, .. } => Some(*status),
            Self::Transport(e) => e.status().map(|s| s.as_u16()),
            _ => None,
        }
    }

    /// The problem details of a failed REST call.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            Self::Api { problem, .. } => Some(problem),
            _ => None,
        }
    }
}

/// The SDK's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
