use std::sync::Arc;

use argus_crypto::SecretHasher;
use argus_store::Store;

use crate::keyring::KeyRing;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub keys: Arc<KeyRing>,
    pub secrets: SecretHasher,
}
