//! Builders for outbox rows, so writers enqueue messages the relay will
//! publish exactly as [`crate::Publisher`] would:
//!
//! ```ignore
//! conn.transaction::<_, StoreError, _>(async |conn| {
//!     incidents::update(conn, &tenant, ...).await?;
//!     argus_store::outbox::enqueue(conn, argus_bus::outbox::event(&tenant, &event, BTreeMap::new())).await
//! }).await?;
//! ```
//!
//! Each row keeps the trace context of the span that wrote it (unless the
//! caller's `headers` already name one), so the relay's publish continues
//! the writer's trace.

use std::collections::BTreeMap;

use argus_store::jobs::JobFinished;
use argus_store::outbox::{NewOutboxMessage, OutboxExchange};
use argus_types::TenantId;

use crate::{Message, WorkQueue, proto};

/// An event for [`crate::Exchange::Events`], routed by its type.
/// `headers` are extra string headers such as `traceparent`.
pub fn event(tenant: &TenantId, event: &proto::Event, headers: BTreeMap<String, String>) -> NewOutboxMessage {
    row(tenant, OutboxExchange::Events, event.r#type.clone(), Message::event(event), headers)
}

/// A webhook delivery task for the deliveries queue.
pub fn delivery(tenant: &TenantId, task: &proto::DeliveryTask, headers: BTreeMap<String, String>) -> NewOutboxMessage {
    row(tenant, OutboxExchange::Work, WorkQueue::Deliveries.routing_key().to_owned(), Message::delivery(task), headers)
}

/// A job task for the jobs queue.
pub fn job(tenant: &TenantId, task: &proto::JobTask, headers: BTreeMap<String, String>) -> NewOutboxMessage {
    row(tenant, OutboxExchange::Work, WorkQueue::Jobs.routing_key().to_owned(), Message::job(task), headers)
}

/// A job callback task for the deliveries queue: callbacks go out like
/// webhook deliveries, never in a job-run slot.
pub fn job_callback(
    tenant: &TenantId,
    task: &proto::JobCallbackTask,
    headers: BTreeMap<String, String>,
) -> NewOutboxMessage {
    let key = WorkQueue::Deliveries.routing_key().to_owned();
    row(tenant, OutboxExchange::Work, key, Message::job_callback(task), headers)
}

/// The outbox rows of a finished job: its `job.*` event (for subscribed
/// webhooks) and, when the job has a callback URL, the callback's task.
pub fn job_finished(finished: &JobFinished, headers: BTreeMap<String, String>) -> Vec<NewOutboxMessage> {
    let e = &finished.event;
    let wire = proto::Event {
        id: e.id.to_string(),
        r#type: e.event_type.to_owned(),
        tenant_id: e.tenant.to_string(),
        created_at_unix_ms: e.created_at.timestamp_millis(),
    };
    let mut rows = vec![event(&e.tenant, &wire, headers.clone())];
    if finished.callback {
        let task = proto::JobCallbackTask {
            job_id: finished.job_id.to_string(),
            tenant_id: e.tenant.to_string(),
            event_id: e.id.to_string(),
        };
        rows.push(job_callback(&e.tenant, &task, headers));
    }
    rows
}

fn row(
    tenant: &TenantId,
    exchange: OutboxExchange,
    routing_key: String,
    message: Message,
    headers: BTreeMap<String, String>,
) -> NewOutboxMessage {
    let mut all = message.headers;
    if !headers.contains_key(argus_telemetry::propagation::TRACEPARENT) {
        all.extend(argus_telemetry::propagation::current_headers());
    }
    all.extend(headers);
    NewOutboxMessage {
        tenant_id: tenant.clone(),
        message_id: message.message_id,
        exchange,
        routing_key,
        kind: message.kind,
        payload: message.payload,
        headers: all,
    }
}
