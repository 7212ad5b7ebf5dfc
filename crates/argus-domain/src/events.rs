//! The event catalog: every event type a webhook may subscribe to, and the
//! JSON envelope receivers get.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use argus_types::{EventId, TenantId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventType {
    pub name: &'static str,
    pub description: &'static str,
}

pub const EVENT_CATALOG: &[EventType] = &[
    EventType { name: "incident.created", description: "An incident was created" },
    EventType { name: "incident.updated", description: "An incident's fields changed" },
    EventType { name: "incident.closed", description: "An incident was closed" },
    EventType { name: "case.created", description: "A case was opened" },
    EventType { name: "case.updated", description: "A case's fields, assignees or linked incidents changed" },
    EventType { name: "case.closed", description: "A case was closed" },
    EventType { name: "job.succeeded", description: "An async job finished with a result" },
    EventType { name: "job.failed", description: "An async job failed" },
    EventType { name: "job.cancelled", description: "An async job was cancelled" },
    EventType { name: "webhook.test", description: "A synthetic event sent by POST /v1/webhooks/{webhook_id}/test" },
];

pub fn is_known_event(name: &str) -> bool {
    EVENT_CATALOG.iter().any(|e| e.name == name)
}

/// `{"id","type","created_at","tenant_id","data"}`.
pub fn envelope(id: &EventId, event_type: &str, created_at: DateTime<Utc>, tenant: &TenantId, data: Value) -> Value {
    json!({
        "id": id,
        "type": event_type,
        "created_at": created_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "tenant_id": tenant,
        "data": data,
    })
}
