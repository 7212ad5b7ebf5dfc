//! auth-service: `auth.knogin.com`. App registration, the scope catalog,
//! governance and the JWKS.

pub mod config;
mod error;

mod keyring;
mod routes;
pub mod startup;
mod state;

pub use config::AuthConfig;
pub use routes::openapi::ApiDoc;
pub use startup::{Application, StartupError};
