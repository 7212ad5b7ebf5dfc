//! What the sandbox API (`ARGUS_ENV=sandbox`) does beyond the live one:
//! every shipped GraphQL bundle is loaded into its database at start and
//! available to every app without a grant, and a token's tenant is made in
//! its database on first use (see `argus_authn::ProvisionedTenants`).

use argus_store::{Store, StoreError};

/// The bundles shipped in `docs/bundles/`, built into the binary so the
/// sandbox has them whatever its database holds. A test checks this list
/// against the directory.
pub const SHIPPED_BUNDLES: &[(&str, &str)] = &[
    ("acqi-reporting", include_str!("../../../docs/bundles/acqi-reporting.graphql")),
    ("case-sync", include_str!("../../../docs/bundles/case-sync.graphql")),
    ("epcr-read", include_str!("../../../docs/bundles/epcr-read.graphql")),
    ("evidence-custody", include_str!("../../../docs/bundles/evidence-custody.graphql")),
    ("incident-webhook-configuration", include_str!("../../../docs/bundles/incident-webhook-configuration.graphql")),
    ("reporting", include_str!("../../../docs/bundles/reporting.graphql")),
];

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

#[cfg(test)]
mod tests {
    #[test]
    fn every_shipped_bundle_is_built_in() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/bundles");
        let mut shipped: Vec<String> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.strip_suffix(".graphql").map(str::to_owned))
            .collect();
        shipped.sort();
        let built_in: Vec<&str> = super::SHIPPED_BUNDLES.iter().map(|(name, _)| *name).collect();
        assert_eq!(shipped, built_in, "docs/bundles and SHIPPED_BUNDLES differ");
        for (name, source) in super::SHIPPED_BUNDLES {
            assert!(argus_store::bundles::parse_bundle_file(source).is_ok(), "{name} parses");
        }
    }
}
