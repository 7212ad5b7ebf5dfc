//! The Argus domain, free of I/O: every state and kind as an enum that
//! reads and writes the same text the API, the events and the database
//! use; the job kinds' inputs and their checks; the rules of the state
//! machines as pure functions; the event catalog.
//!
//! What is not here: ids, scopes, claims and the problem vocabulary
//! (`argus-types`), storage (`argus-store`), computation
//! (`argus-analytics`).

mod error;
mod text_enum;

pub mod cases;
pub mod deliveries;
pub mod entities;
pub mod epcr;
pub mod events;
pub mod evidence;
pub mod incidents;
pub mod jobs;
pub mod prov_o;

pub use cases::CaseStatus;
pub use deliveries::{CallbackStatus, DeliveryStatus};
pub use entities::EntityKind;
pub use epcr::{Encounter, FieldError, FieldErrors};
pub use error::DomainError;
pub use events::{DomainEvent, EventKind};
pub use evidence::EvidenceOperation;
pub use incidents::{IncidentStatus, Severity};
pub use jobs::{JobKind, JobOutcome, JobStatus};
