//! The HTTP layer every Argus service shares: problem+json responses and
//! the base error type ([`HttpError`]), body and content-type rules
//! ([`body`]), paths that answer other methods 405 with `Allow`
//! ([`Endpoint`]), `/healthz` and `/readyz` ([`health`]), the admin address
//! with `/metrics` ([`admin`]), OpenAPI serving ([`openapi`]), listing pages ([`pagination`]), the RFC 9727
//! API catalog and public status ([`discovery`]), and serving until
//! SIGTERM/SIGINT ([`serve`]).

pub mod admin;
pub mod body;
pub mod cli;
pub mod deprecation;
pub mod discovery;
mod endpoint;
pub mod environment;
mod error;
pub mod health;
pub mod openapi;
pub mod pagination;
mod problem;
pub mod serve;
#[cfg(feature = "testing")]
pub mod testing;

pub use endpoint::Endpoint;
pub use error::HttpError;
pub use problem::{method_not_allowed, not_found, problem_response, problem_status};
