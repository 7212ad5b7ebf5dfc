//! The incident and case domain and the entity graph, tenant-scoped.
//!
//! Every mutation of an incident or a case stores its event (the webhook
//! envelope) and the event's outbox message in the transaction of the
//! change, so a committed change is always announced and a rolled-back one
//! never is.

mod cases;
mod entities;
pub(crate) mod evidence;
mod incidents;

pub use cases::{CaseChanges, CaseFilter, CaseRecord, NewCase};
pub use entities::{EntityFilter, EntityRecord, NewEntity, RelationshipRecord};
pub use evidence::{EntryRecord, EvidenceActor, EvidenceRecord, StoredProvenanceKey};
pub use incidents::{IncidentChanges, IncidentFilter, IncidentRecord, NewIncident};

use argus_domain::{DomainEvent, EventKind};
use argus_types::TenantId;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, QueryFragment};
use diesel::result::QueryResult;
use diesel::sql_types::{Binary, Jsonb, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use serde_json::Value;

use crate::StoreError;
use crate::outbox::NewOutboxMessage;
use crate::prepared::{no_such_parameter, prepared_statement, push_sql_with_binds};
use crate::write_stamp::Stamp;

/// The channel the incidents' triggers notify with `tenant_id/id` (or
/// `tenant_id/*`) whenever incidents are updated or deleted.
pub const INCIDENT_CHANGED_CHANNEL: &str = "argus_incident_changed";

/// Announces a change: a new event of `kind` about `record`, stamped like
/// the write, stored with its outbox message, in the caller's transaction.
pub(crate) async fn announce(
    conn: &mut AsyncPgConnection,
    stamp: &Stamp,
    tenant: &TenantId,
    kind: EventKind,
    record: &impl Serialize,
) -> Result<(), StoreError> {
    record_event(conn, &stamp.event(tenant, kind, to_json(record)?)).await
}

/// Stores an event (its webhook envelope) and enqueues its bus message, in
/// one statement (two would cost a second round trip on every change), in
/// the caller's transaction.
pub(crate) async fn record_event(conn: &mut AsyncPgConnection, event: &DomainEvent) -> Result<(), StoreError> {
    InsertEvent(EventRows::new(event)).execute(conn).await.map_err(|e| event_conflict(e, event))?;
    Ok(())
}

/// A unique violation on storing `event` (its id taken) as a conflict.
pub(super) fn event_conflict(e: diesel::result::Error, event: &DomainEvent) -> StoreError {
    crate::unique_violation_to_conflict(e, &format!("event {}", event.id))
}

/// The SQL that stores an event's row and its outbox row: the end of a
/// statement whose `WITH` comes before it, so that a change and its
/// announcement can be one statement. `$gate` is a `FROM` clause whose rows
/// decide whether the two rows are written (one row: written; none: not);
/// empty, they always are. Its parameters are `$1` to `$11`, bound by
/// [`EventRows::bind`].
macro_rules! insert_event_sql {
    ($gate:literal) => {
        concat!(
            "event AS (
                 INSERT INTO events (id, tenant_id, type, envelope) SELECT $1, $2, $3, $4 ",
            $gate,
            "
             )
             INSERT INTO outbox (tenant_id, message_id, exchange, routing_key, kind, payload, headers)
             SELECT $2, $5, $6, $7, $8, $9,
                    $10 || jsonb_build_object($11::text,
                        coalesce((SELECT webhooks_version FROM tenants WHERE id = $2), 0)::text) ",
            $gate
        )
    };
}
pub(super) use insert_event_sql;

/// An event's row and its outbox message: the parameters of
/// [`insert_event_sql!`].
pub(super) struct EventRows<'a> {
    event: &'a DomainEvent,
    envelope: Value,
    message: NewOutboxMessage,
    headers: Value,
}

impl<'a> EventRows<'a> {
    pub(super) fn new(event: &'a DomainEvent) -> Self {
        let envelope = event.envelope();
        let message = NewOutboxMessage::event(event, &envelope);
        let headers = message.headers_json();
        Self { event, envelope, message, headers }
    }

    /// Pushes parameter `$n` (1 to 11).
    pub(super) fn bind<'b>(&'b self, out: &mut AstPass<'_, 'b, Pg>, n: usize) -> QueryResult<()> {
        let (event, message) = (self.event, &self.message);
        match n {
            1 => out.push_bind_param::<Text, _>(event.id.as_str()),
            2 => out.push_bind_param::<Text, _>(event.tenant.as_str()),
            3 => out.push_bind_param::<Text, _>(event.kind.as_str()),
            4 => out.push_bind_param::<Jsonb, _>(&self.envelope),
            5 => out.push_bind_param::<Text, _>(&message.message_id),
            6 => out.push_bind_param::<Text, _>(message.exchange.as_str()),
            7 => out.push_bind_param::<Text, _>(&message.routing_key),
            8 => out.push_bind_param::<Text, _>(&message.kind),
            9 => out.push_bind_param::<Binary, _>(&message.payload),
            10 => out.push_bind_param::<Jsonb, _>(&self.headers),
            11 => out.push_bind_param::<Text, _>(crate::outbox::WEBHOOKS_VERSION_HEADER),
            n => Err(no_such_parameter(n)),
        }
    }
}

/// An event's row and its outbox row, prepared once per connection
/// ([`crate::prepared`]).
struct InsertEvent<'a>(EventRows<'a>);

impl InsertEvent<'_> {
    const SQL: &'static str = concat!("WITH ", insert_event_sql!(""));
}

impl QueryFragment<Pg> for InsertEvent<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        push_sql_with_binds(&mut out, Self::SQL, |out, n| self.0.bind(out, n))
    }
}

prepared_statement!(InsertEvent);

pub(super) fn to_json<T: Serialize>(value: &T) -> Result<Value, StoreError> {
    serde_json::to_value(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}
