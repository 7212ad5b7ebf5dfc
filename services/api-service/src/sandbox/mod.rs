//! What the sandbox API (`ARGUS_ENV=sandbox`) does beyond the live one:
//! every shipped GraphQL bundle is loaded into its database at start and
//! available to every app without a grant, and a token's tenant is made in
//! its database on first use (see `argus_authn::ProvisionedTenants`); and
//! its scenarios ([`scenarios`]).

pub mod scenarios;

use argus_store::{Store, StoreError};

use crate::shipped_bundles::SHIPPED_BUNDLES;

/// Loads (or replaces) every shipped bundle into the sandbox's database.
pub async fn load_shipped_bundles(store: &Store) -> Result<(), StoreError> {
    for (name, source) in SHIPPED_BUNDLES {
        let operations = argus_store::bundles::parse_bundle_file(source)
            .map_err(|e| StoreError::Config(format!("shipped bundle {name}: {e}")))?;
        store.load_bundle(name, &operations).await?;
    }
    tracing::info!(bundles = SHIPPED_BUNDLES.len(), "sandbox: shipped bundles loaded, available without a grant");
    Ok(())
}
