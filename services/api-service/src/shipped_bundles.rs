//! The curated GraphQL bundles as shipped in `docs/bundles/`, built into
//! the binary: the sandbox loads them whatever its database holds, and the
//! partner contract's `external.graphql` describes what they use.

/// Each bundle's name (its file's stem) and source. A test keeps this list
/// and the folder the same.
pub const SHIPPED_BUNDLES: &[(&str, &str)] = &[
    ("acqi-reporting", include_str!("../../../docs/bundles/acqi-reporting.graphql")),
    ("case-sync", include_str!("../../../docs/bundles/case-sync.graphql")),
    ("epcr-read", include_str!("../../../docs/bundles/epcr-read.graphql")),
    ("evidence-custody", include_str!("../../../docs/bundles/evidence-custody.graphql")),
    ("incident-webhook-configuration", include_str!("../../../docs/bundles/incident-webhook-configuration.graphql")),
    ("reporting", include_str!("../../../docs/bundles/reporting.graphql")),
];

/// The stems of the files in `docs/{folder}` ending in `suffix`, sorted:
/// what a list of shipped files built into the binary must hold.
#[cfg(test)]
pub(crate) fn stems_in_docs(folder: &str, suffix: &str) -> Vec<String> {
    let folder = format!("{}/../../docs/{folder}", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<String> = std::fs::read_dir(folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter_map(|n| n.strip_suffix(suffix).map(str::to_owned))
        .collect();
    files.sort();
    files
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_shipped_bundles_are_every_file_of_docs_bundles_and_each_loads() {
        let files = super::stems_in_docs("bundles", ".graphql");
        let shipped: Vec<&str> = super::SHIPPED_BUNDLES.iter().map(|(name, _)| *name).collect();
        assert_eq!(shipped, files);
        for (name, source) in super::SHIPPED_BUNDLES {
            assert!(argus_store::bundles::parse_bundle_file(source).is_ok(), "{name}");
        }
    }
}
