//! Incidents read by id, kept in memory: a read by id is the transport's
//! commonest request, and its database round trip was most of its cost.
//! Keys are `tenant_id/incident_id`, so one tenant's entry can never answer
//! another's read. Triggers notify [`INCIDENT_CHANGED_CHANNEL`] on every
//! update and delete, whoever makes it; see [`argus_store::notified`] for
//! how the cache stays true.

use std::sync::Arc;
use std::time::Duration;

use argus_store::domain::{INCIDENT_CHANGED_CHANNEL, IncidentRecord};
use argus_store::notified::{CacheConfig, NotifiedCache};
use argus_store::{Store, StoreError};
use argus_types::{IncidentId, TenantId};

pub const LISTENER_APPLICATION_NAME: &str = "argus-incident-cache";

/// Cheap to clone: clones share one cache.
#[derive(Clone)]
pub struct IncidentCache {
    incidents: Arc<NotifiedCache<IncidentRecord>>,
}

fn key(tenant: &TenantId, id: &IncidentId) -> String {
    format!("{}/{}", tenant.as_str(), id.as_str())
}

impl IncidentCache {
    /// Listens on `database_url`, on the current runtime.
    pub fn listening_to(database_url: String) -> Self {
        Self {
            incidents: NotifiedCache::listening(CacheConfig {
                database_url,
                channel: INCIDENT_CHANGED_CHANNEL,
                application_name: LISTENER_APPLICATION_NAME,
                // ~1 KiB each at most.
                capacity: 50_000,
                max_age: Duration::from_secs(60),
            }),
        }
    }

    /// The tenant's incident, or `None` when the tenant has no such one.
    pub async fn get(
        &self,
        store: &Store,
        tenant: &TenantId,
        id: &IncidentId,
    ) -> Result<Option<Arc<IncidentRecord>>, StoreError> {
        self.incidents.get_or_load(&key(tenant, id), store.get_incident(tenant, id)).await
    }

    /// Forgets an incident this replica just changed.
    pub fn forget(&self, tenant: &TenantId, id: &IncidentId) {
        self.incidents.forget(&key(tenant, id));
    }
}
