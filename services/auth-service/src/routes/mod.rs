//! Handlers, one module per contract topic.

pub mod apps;
pub mod authorize;
pub mod credentials;
pub mod jwks;
pub mod metadata;
pub mod oauth;
pub mod openapi;
pub mod scopes;
pub mod webhooks;
