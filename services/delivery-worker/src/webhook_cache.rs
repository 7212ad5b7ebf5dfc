//! Each tenant's enabled webhooks, kept in memory: with them and the
//! envelope the event's message carries, the fan-out of a new event reads
//! nothing from the database (it was the worker's one statement per event
//! besides its share of the batched records). Keys are tenant ids, so one
//! tenant's list can never answer another's event.
//!
//! Two things keep a list true. Each event's message carries the count of
//! changes to its tenant's webhooks that its writer saw, and a list older
//! than that is read again: an event written after a change is never sent
//! by the list from before it. And the webhooks' triggers notify
//! [`WEBHOOK_CHANGED_CHANNEL`] with the tenant whenever a webhook is added,
//! deleted or changed in what a delivery needs, so a deleted or disabled
//! webhook stops getting the events written before, too (see
//! [`argus_store::notified`]).

use std::sync::Arc;
use std::time::Duration;

use argus_store::notified::{CacheConfig, NotifiedCache};
use argus_store::webhooks::{TenantWebhooks, WEBHOOK_CHANGED_CHANNEL};
use argus_store::{Store, StoreError};
use argus_types::TenantId;

const LISTENER_APPLICATION_NAME: &str = "argus-webhook-cache";

/// Cheap to clone: clones share one cache.
#[derive(Clone)]
pub(crate) struct WebhookCache {
    tenants: Arc<NotifiedCache<TenantWebhooks>>,
}

impl WebhookCache {
    /// Listens on `database_url`, on the current runtime.
    pub(crate) fn listening_to(database_url: String) -> Self {
        Self {
            tenants: NotifiedCache::listening(CacheConfig {
                database_url,
                channel: WEBHOOK_CHANGED_CHANNEL,
                application_name: LISTENER_APPLICATION_NAME,
                // Tenants. A list holds at most the per-tenant webhook cap
                // (50 by default) of ~1 KiB each: 100 MiB at worst, inside
                // the worker pod's 768 MiB. Tenants past it are read from
                // the database on every event, as before the cache.
                capacity: 2_000,
                max_age: Duration::from_secs(60),
            }),
        }
    }

    /// The tenant's enabled webhooks, as of at least `version` changes
    /// when the event says how many its writer saw.
    pub(crate) async fn enabled(
        &self,
        store: &Store,
        tenant: &TenantId,
        version: Option<i64>,
    ) -> Result<Arc<TenantWebhooks>, StoreError> {
        let stale = |kept: &TenantWebhooks| version.is_some_and(|v| kept.version < v);
        let loaded = self.tenants.get_or_load_unless(tenant.as_str(), stale, store.enabled_webhooks(tenant));
        Ok(loaded.await?.unwrap_or_default())
    }
}
