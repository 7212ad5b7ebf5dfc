//! The incident and case domain and the entity graph, tenant-scoped.
//!
//! Every mutation of an incident or a case stores its event (the webhook
//! envelope) and the event's outbox message in the transaction of the
//! change, so a committed change is always announced and a rolled-back one
//! never is. The store does not know the bus's wire format: the caller
//! passes an [`Announce`] that turns a [`DomainEvent`] into the outbox row.

mod cases;
mod entities;
mod incidents;

pub use cases::{CaseChanges, CaseFilter, CaseRecord, NewCase};
pub use entities::{EntityFilter, EntityRecord, NewEntity, RelationshipRecord};
pub use incidents::{IncidentChanges, IncidentFilter, IncidentRecord, NewIncident};

use argus_domain::events::envelope;
use argus_types::{EventId, TenantId};
use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use serde::Serialize;
use serde_json::Value;

use crate::StoreError;
use crate::outbox::{NewOutboxMessage, enqueue};
use crate::webhooks::insert_event;

/// An event a mutation announces, before it becomes an outbox row.
#[derive(Debug, Clone)]
pub struct DomainEvent {
    pub id: EventId,
    pub tenant: TenantId,
    pub event_type: &'static str,
    pub created_at: DateTime<Utc>,
    /// The envelope's `data`: the changed record.
    pub data: Value,
}

/// Builds the outbox message of an event (the bus crate's `outbox::event`).
pub type Announce = dyn Fn(&DomainEvent) -> NewOutboxMessage + Send + Sync;

/// The channel the incidents' triggers notify with `tenant_id/id` (or
/// `tenant_id/*`) whenever incidents are updated or deleted.
pub const INCIDENT_CHANGED_CHANNEL: &str = "argus_incident_changed";

/// Stores the event and enqueues its message, in the caller's transaction.
pub(super) async fn announce(
    conn: &mut AsyncPgConnection,
    tenant: &TenantId,
    event_type: &'static str,
    data: Value,
    announce: &Announce,
) -> Result<(), StoreError> {
    let event =
        DomainEvent { id: EventId::generate(), tenant: tenant.clone(), event_type, created_at: Utc::now(), data };
    store_event(conn, &event).await?;
    enqueue(conn, announce(&event)).await
}

/// Stores the event's webhook envelope, in the caller's transaction.
pub(crate) async fn store_event(conn: &mut AsyncPgConnection, event: &DomainEvent) -> Result<(), StoreError> {
    let body = envelope(&event.id, event.event_type, event.created_at, &event.tenant, event.data.clone());
    insert_event(conn, &event.id, &event.tenant, event.event_type, &body).await
}

pub(super) fn to_json<T: Serialize>(value: &T) -> Result<Value, StoreError> {
    serde_json::to_value(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}
