//! The event catalog: every kind of event a webhook may subscribe to, the
//! [`DomainEvent`] a change announces, and the JSON envelope receivers get.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use argus_types::{EventId, TenantId};

use crate::text_enum::text_enum;

text_enum! {
    /// What happened: the event's `type`, and the routing key on the bus.
    pub enum EventKind ("event type") {
        IncidentCreated = "incident.created",
        IncidentUpdated = "incident.updated",
        IncidentClosed = "incident.closed",
        CaseCreated = "case.created",
        CaseUpdated = "case.updated",
        CaseClosed = "case.closed",
        EpcrCreated = "epcr.created",
        EpcrUpdated = "epcr.updated",
        EvidenceCreated = "evidence.created",
        EvidenceOperationRecorded = "evidence.operation_recorded",
        EvidenceSealed = "evidence.sealed",
        JobSucceeded = "job.succeeded",
        JobFailed = "job.failed",
        JobCancelled = "job.cancelled",
        WebhookTest = "webhook.test",
    }
}

impl EventKind {
    /// One line for the catalog (`GET /v1/webhooks/event-types`).
    pub fn description(self) -> &'static str {
        match self {
            Self::IncidentCreated => "An incident was created",
            Self::IncidentUpdated => "An incident's fields changed",
            Self::IncidentClosed => "An incident was closed",
            Self::CaseCreated => "A case was opened",
            Self::CaseUpdated => "A case's fields, assignees or linked incidents changed",
            Self::CaseClosed => "A case was closed",
            Self::EpcrCreated => "An ePCR encounter (patient care record) was created",
            Self::EpcrUpdated => "An ePCR encounter changed (a new observation, device or outcome)",
            Self::EvidenceCreated => "An evidence item was created (its transcript opens with CREATE)",
            Self::EvidenceOperationRecorded => {
                "An operation other than VIEW (annotate, transfer of custody, export) was recorded on an evidence item"
            }
            Self::EvidenceSealed => "An evidence item was sealed: from now on only VIEW is recorded",
            Self::JobSucceeded => "An async job finished with a result",
            Self::JobFailed => "An async job failed",
            Self::JobCancelled => "An async job was cancelled",
            Self::WebhookTest => "A synthetic event sent by POST /v1/webhooks/{webhook_id}/test",
        }
    }
}

pub fn is_known_event(name: &str) -> bool {
    name.parse::<EventKind>().is_ok()
}

/// An event a change announces: stored with the change, published to the
/// bus from the outbox, and sent to subscribed webhooks as its
/// [`envelope`](DomainEvent::envelope).
#[derive(Debug, Clone)]
pub struct DomainEvent {
    pub id: EventId,
    pub tenant: TenantId,
    pub kind: EventKind,
    pub created_at: DateTime<Utc>,
    /// The envelope's `data`: the changed record.
    pub data: Value,
}

impl DomainEvent {
    /// A new event, now, with a fresh id.
    pub fn new(tenant: &TenantId, kind: EventKind, data: Value) -> Self {
        Self { id: EventId::generate(), tenant: tenant.clone(), kind, created_at: Utc::now(), data }
    }

    /// `{"id","type","created_at","tenant_id","data"}`, as receivers get it.
    pub fn envelope(&self) -> Value {
        json!({
            "id": self.id,
            "type": self.kind,
            "created_at": self.created_at.to_rfc3339_opts(SecondsFormat::Millis, true),
            "tenant_id": self.tenant,
            "data": self.data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_carries_the_event_and_its_data() {
        let tenant = TenantId::generate();
        let event = DomainEvent::new(&tenant, EventKind::CaseClosed, json!({"id": "cas_1"}));
        let body = event.envelope();
        assert_eq!(body["id"], event.id.to_string());
        assert_eq!(body["type"], "case.closed");
        assert_eq!(body["tenant_id"], tenant.to_string());
        assert_eq!(body["data"], json!({"id": "cas_1"}));
        assert!(body["created_at"].as_str().unwrap().ends_with('Z'));
    }

    #[test]
    fn every_kind_is_described_and_known_by_its_name() {
        for kind in EventKind::ALL {
            assert!(!kind.description().is_empty());
            assert!(is_known_event(kind.as_str()));
        }
        assert!(!is_known_event("incident.deleted"));
    }
}
