#!/usr/bin/env bash
# Runs every test against the local PostgreSQL and RabbitMQ. Each test makes
# its own database (and vhost), so tests run in parallel and leave nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ensure_services
if ! command -v cargo-nextest >/dev/null 2>&1; then
    say "installing cargo-nextest"
    cargo install cargo-nextest --locked
fi
say "running the test suite"
cargo nextest run --workspace --no-fail-fast

say "validating the Kubernetes manifests and the Dockerfile"
bash deploy/k8s/check.sh
