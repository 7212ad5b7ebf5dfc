//! The incident and case domain and the entity graph, tenant-scoped.
//!
//! Every mutation of an incident or a case stores its event (the webhook
//! envelope) and the event's outbox message in the transaction of the
//! change, so a committed change is always announced and a rolled-back one
//! never is.

mod cases;
mod entities;
mod incidents;

pub use cases::{CaseChanges, CaseFilter, CaseRecord, NewCase};
pub use entities::{EntityFilter, EntityRecord, NewEntity, RelationshipRecord};
pub use incidents::{IncidentChanges, IncidentFilter, IncidentRecord, NewIncident};

use argus_domain::{DomainEvent, EventKind};
use argus_types::TenantId;
use diesel_async::AsyncPgConnection;
use serde::Serialize;
use serde_json::Value;

use crate::StoreError;
use crate::outbox::{NewOutboxMessage, enqueue};
use crate::webhooks::insert_event;

/// The channel the incidents' triggers notify with `tenant_id/id` (or
/// `tenant_id/*`) whenever incidents are updated or deleted.
pub const INCIDENT_CHANGED_CHANNEL: &str = "argus_incident_changed";

/// Announces a change: a new event of `kind` about `record`, stored with
/// its outbox message, in the caller's transaction.
pub(super) async fn announce(
    conn: &mut AsyncPgConnection,
    tenant: &TenantId,
    kind: EventKind,
    record: &impl Serialize,
) -> Result<(), StoreError> {
    record_event(conn, &DomainEvent::new(tenant, kind, to_json(record)?)).await
}

/// Stores an event (its webhook envelope) and enqueues its bus message, in
/// the caller's transaction.
pub(crate) async fn record_event(conn: &mut AsyncPgConnection, event: &DomainEvent) -> Result<(), StoreError> {
    insert_event(conn, event).await?;
    enqueue(conn, NewOutboxMessage::event(event)).await
}

pub(super) fn to_json<T: Serialize>(value: &T) -> Result<Value, StoreError> {
    serde_json::to_value(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}
