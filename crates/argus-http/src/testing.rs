//! Checks every service's tests make of its binary (feature `testing`).

#![allow(clippy::expect_used)]

/// The sources of the crates every service reads variables through.
const SHARED_SOURCES: [&str; 5] = [
    include_str!("../../argus-store/src/lib.rs"),
    include_str!("../../argus-telemetry/src/lib.rs"),
    include_str!("../../argus-telemetry/src/config.rs"),
    include_str!("../../argus-telemetry/src/otlp/config.rs"),
    include_str!("../../argus-spans/src/lib.rs"),
];

/// Every `ARGUS_*` or `OTEL_*` variable quoted in `config_source` (a
/// service's `config.rs`) or in the shared crates is in the service's
/// `--help` of `environment` parts.
pub fn assert_help_lists_every_variable(environment: &[&str], config_source: &str) {
    let help = crate::cli::environment_help(environment);
    for source in std::iter::once(config_source).chain(SHARED_SOURCES) {
        for quoted in source.split('"').skip(1).step_by(2) {
            let name = quoted.trim();
            let is_variable = (name.starts_with("ARGUS_") || name.starts_with("OTEL_"))
                && name.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
            assert!(!is_variable || help.contains(name), "{name} is read but not in --help");
        }
    }
}

/// The binary at `path` answers `--version` with `name version`, `--help`
/// with the variables, and refuses an unknown argument with status 2.
pub fn assert_binary_answers_flags(path: &str, name: &str, version: &str) {
    let run = |arg: &str| std::process::Command::new(path).arg(arg).output().expect("the binary runs");
    let answered = run("--version");
    assert!(answered.status.success());
    assert_eq!(String::from_utf8_lossy(&answered.stdout).trim(), format!("{name} {version}"));
    let help = run("--help");
    assert!(help.status.success());
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    assert!(help.contains("ARGUS_DATABASE_URL") && help.contains("OTEL_EXPORTER_OTLP_ENDPOINT"), "{help}");
    assert_eq!(run("--frobnicate").status.code(), Some(2), "an unknown argument is refused");
}
