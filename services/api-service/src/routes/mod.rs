//! REST routes, one module per contract topic.

pub mod jobs;
