//! REST routes, one module per contract topic.

pub mod fhir;
pub mod jobs;
