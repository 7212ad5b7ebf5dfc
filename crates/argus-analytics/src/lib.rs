//! Compute core of two async job kinds (issue 6, "Async jobs"):
//!
//! * [`graph`]: `graph.compute`, graph algorithms over a tenant's entity graph (PageRank, connected
//!   components, degree and betweenness centrality, shortest paths).
//! * [`enrich`]: `intelligence.enrich.bulk`, normalisation of names, phone numbers, e-mails and addresses,
//!   duplicate detection and link suggestions.
//!
//! The crate does no I/O: the job runner loads entities and relationships, calls in here, and stores the
//! serialisable output. Long computations report progress through a callback that can also cancel them.

mod error;
mod progress;

pub mod enrich;
pub mod graph;

pub use error::ComputeError;
