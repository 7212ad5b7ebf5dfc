//! Handlers, one module per contract topic.

pub mod apps;
pub mod jwks;
pub mod openapi;
pub mod scopes;
