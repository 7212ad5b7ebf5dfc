//! auth-service: `auth.knogin.com`. App registration, the scope catalog,
//! governance, the JWKS, and the OAuth 2.0 authorization server.

mod client_address;
pub mod config;
mod error;

mod keyring;
mod metrics;
mod oauth;
mod ratelimit;
mod routes;
pub mod startup;
mod state;

/// The webhook routes, which the sandbox API serves too, on its own database.
pub use ratelimit::ManualSends;
pub use routes::webhooks;

pub use config::{AuthConfig, OAuthConfig, WebhookLimits};
pub use routes::openapi::ApiDoc;
pub use startup::{StartupError, build, serve};
