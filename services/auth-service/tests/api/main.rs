//! auth-service through its HTTP interface: a real server on a random port,
//! a real PostgreSQL database of the test's own.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod apps;
mod browser;
mod client_cache;
mod errors;
mod helpers;
mod jwks;
mod metrics;
mod oauth;
mod shutdown;
mod sign_in_flood;
mod tokens;
mod webhooks;
