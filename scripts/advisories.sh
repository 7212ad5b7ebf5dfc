#!/usr/bin/env bash
# Checks Cargo.lock against the RustSec advisory database (`just
# advisories`). Not part of `just test`: it fetches the database (a git
# repository) over the network, and a newly published advisory must not fail
# an unrelated change. Run it on a schedule (.github/workflows/advisories.yml
# does, daily) and before a release. Installs cargo-deny when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

export PATH="$HOME/.cargo/bin:$PATH"
ensure_cargo_tool cargo-deny cargo-deny "$CARGO_DENY_VERSION"
say "security advisories (cargo deny check advisories, deny.toml)"
cargo deny --locked check advisories
