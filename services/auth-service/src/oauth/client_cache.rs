//! Authenticated clients kept in memory, so the token endpoint's hot path
//! makes no database round trip (it was a third of a token's cost besides
//! signing). A trigger notifies [`CLIENT_CHANGED_CHANNEL`] with the
//! `client_id` whenever an app or one of its secrets changes, whoever
//! changed it; see [`argus_store::notified`] for how the cache stays true.

use std::sync::Arc;
use std::time::Duration;

use argus_store::notified::{CacheConfig, NotifiedCache};
use argus_store::oauth::{CLIENT_CHANGED_CHANNEL, ClientCredentials};
use argus_store::{Store, StoreError};
use argus_types::ClientId;

pub const LISTENER_APPLICATION_NAME: &str = "argus-client-cache";

/// Cheap to clone: clones share one cache.
#[derive(Clone)]
pub struct ClientCache {
    clients: Arc<NotifiedCache<ClientCredentials>>,
}

impl ClientCache {
    /// Listens on `database_url`, on the current runtime.
    pub fn listening_to(database_url: String) -> Self {
        Self {
            clients: NotifiedCache::listening(CacheConfig {
                database_url,
                channel: CLIENT_CHANGED_CHANNEL,
                application_name: LISTENER_APPLICATION_NAME,
                // Only registered apps can fill it.
                capacity: 10_000,
                max_age: Duration::from_secs(60),
            }),
        }
    }

    /// The client's app and secrets (each secret with its expiry, checked
    /// at use).
    pub async fn get(&self, store: &Store, client_id: &ClientId) -> Result<Option<Arc<ClientCredentials>>, StoreError> {
        self.clients.get_or_load(client_id.as_str(), store.client_for_authentication(client_id)).await
    }

    /// Forgets one client: this replica changed its app or secrets.
    pub fn forget(&self, client_id: &str) {
        self.clients.forget(client_id);
    }
}
