//! api-service through HTTP on random ports, against a real PostgreSQL
//! database of the test's own and an in-process auth-service that issues
//! the tokens and serves the JWKS the API verifies them with.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod acqi;
mod contract;
mod data_schemas;
mod devices;
mod docs;
mod domain;
mod e2e;
mod epcr;
mod fhir;
mod graphql;
mod health;
mod helpers;
mod incident_cache;
mod large_jobs;
mod metrics;
mod partner;
mod provenance;
mod provenance_formats;
mod sampling;
mod sandbox;
mod schemathesis;
mod stack;
mod tokens;
mod tracing;
