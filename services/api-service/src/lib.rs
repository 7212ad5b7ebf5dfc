//! api-service: `api.knogin.com` and, with `ARGUS_ENV=sandbox`,
//! `sandbox-api.knogin.com`. Serves the GraphQL transport (`POST /graphql`)
//! over the incident and case domain, the async jobs routes (`/v1/jobs…`),
//! ePCR encounters (`/api/v1/epcr/encounters…`), the tenant-scoped trace
//! lookup (`GET /v1/observability/traces/{trace_id}`), the data schemas
//! (`/v1/discovery/data-schemas…`), the partner contract files
//! (`/partners/contract/v2026.4/…`), health and readiness, and its OpenAPI document. Tokens are verified
//! against the auth-service's JWKS.

pub mod config;
pub mod data_schemas;
pub mod docs;
pub mod error;
pub mod graphql;
pub mod idempotency;
pub mod openapi;
pub mod partner;
pub mod routes;
pub mod sandbox;
pub mod shipped_bundles;
pub mod startup;
pub mod traces;

pub use config::ApiConfig;
pub use startup::{StartupError, build, serve};
