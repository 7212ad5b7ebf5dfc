//! The work messages the worker consumes, each naming a tenant and a
//! subject (an event, a delivery, a job), and their decoding.

use argus_bus::{BusError, Incoming, Outcome, proto};
use argus_types::TenantId;

/// A work message that names its tenant and its subject.
pub(crate) trait TenantTask: Sized {
    /// What it is, and what its subject's id is, in a dead-letter reason.
    const WHAT: &'static str;
    const SUBJECT: &'static str;
    fn decode(message: &Incoming) -> Result<Self, BusError>;
    /// The tenant's id and the subject's, as sent.
    fn ids(&self) -> (&str, &str);
}

macro_rules! tenant_tasks {
    ($($task:ty: $what:literal, $subject:literal, $id:ident;)*) => {$(
        impl TenantTask for $task {
            const WHAT: &'static str = $what;
            const SUBJECT: &'static str = $subject;
            fn decode(message: &Incoming) -> Result<Self, BusError> {
                message.decode()
            }
            fn ids(&self) -> (&str, &str) {
                (&self.tenant_id, &self.$id)
            }
        }
    )*};
}

tenant_tasks! {
    proto::Event: "event", "event id", id;
    proto::DeliveryTask: "delivery task", "delivery id", delivery_id;
    proto::JobCallbackTask: "callback task", "job id", job_id;
    proto::JobTask: "job task", "job id", job_id;
}

/// A message's task with its tenant and subject ids parsed; or, for a
/// message that is not one, its dead-lettering.
pub(crate) fn decode<T: TenantTask, Id: std::str::FromStr>(message: &Incoming) -> Result<(T, TenantId, Id), Outcome> {
    let task =
        T::decode(message).map_err(|e| Outcome::DeadLetter { reason: format!("undecodable {}: {e}", T::WHAT) })?;
    let (tenant, id) = task.ids();
    let tenant = parse(tenant, "tenant id")?;
    let id = parse(id, T::SUBJECT)?;
    Ok((task, tenant, id))
}

fn parse<T: std::str::FromStr>(raw: &str, what: &str) -> Result<T, Outcome> {
    raw.parse().map_err(|_| Outcome::DeadLetter { reason: format!("malformed {what} `{raw}`") })
}
