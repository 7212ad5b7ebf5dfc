#!/usr/bin/env bash
# CI's gates, then every test against the local PostgreSQL and RabbitMQ, then
# the offline checks of the deployment files:
#   1. scripts/lint.sh: rustfmt, cargo machete, cargo deny (bans, licenses,
#      sources), clippy with warnings as errors;
#   2. the tests (cargo nextest, --locked). Each test makes its own database
#      (and vhost), so tests run in parallel and leave nothing;
#   3. deploy/k8s/check.sh: the Kubernetes manifests, the Dockerfile and
#      deploy/compose.yaml.
# Installs what it needs when it is missing: cargo-deny, cargo-machete and
# cargo-nextest (crates.io), Chromium with its driver (Debian) for the
# browser test of the authorization-code flow, Node.js (Debian) with the FHIR
# R4 schema validator (npm, pinned, into target/fhir-validator) for the FHIR
# export's test, Node.js with @noble/post-quantum and jsonld (npm, pinned,
# into target/provenance-check) for the provenance tests, schemathesis (PyPI,
# pinned, into a virtualenv in target/schemathesis) for the api-service's
# fuzzing test of both OpenAPI documents, and the deployment checks' Python
# tools (PyPI, into a virtualenv).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

export PATH="$HOME/.cargo/bin:$PATH"
bash scripts/lint.sh

ensure_services
if ! command -v cargo-nextest >/dev/null 2>&1; then
    say "installing cargo-nextest (the test runner), from crates.io"
    cargo install cargo-nextest --locked
fi
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    command -v apt-get >/dev/null 2>&1 \
        || die "the browser test needs Chromium and its WebDriver: install Debian's chromium and chromium-driver (or your system's equivalents), then run this again"
    say "installing chromium and chromium-driver (Debian), for the browser test of the authorization-code flow"
    sudo_cmd=()
    [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq chromium chromium-driver >/dev/null
fi
bash scripts/fhir-validate.sh --install
bash scripts/schemathesis.sh --install
bash scripts/provenance-check.sh --install
say "running the test suite"
cargo nextest run --workspace --no-fail-fast --locked
# nextest runs no doctests: the SDK's documentation examples are its users'
# first code, so they are compiled (and the runnable ones run) here.
say "the SDK's documentation examples (cargo test --doc)"
cargo test --locked -p argus-client --doc

say "validating the Kubernetes manifests, the Dockerfile and the Compose file"
bash deploy/k8s/check.sh
