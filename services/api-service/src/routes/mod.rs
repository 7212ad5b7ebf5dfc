//! REST routes, one module per contract topic.

pub mod epcr;
pub mod jobs;
