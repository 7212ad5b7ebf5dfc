//! api-service: `api.knogin.com` and, with `ARGUS_ENV=sandbox`,
//! `sandbox-api.knogin.com`. For now it serves health and readiness; the
//! GraphQL transport and jobs routes come with their issues.

pub mod config;
pub mod startup;

pub use config::ApiConfig;
pub use startup::{Application, StartupError};
