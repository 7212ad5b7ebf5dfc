//! REST routes, one module per contract topic.

pub mod devices;
pub mod discovery;
pub mod epcr;
pub mod fhir;
pub mod jobs;
pub mod partner;
pub mod provenance;
pub mod sandbox;
