//! REST routes, one module per contract topic.

pub mod job_body;
pub mod jobs;
