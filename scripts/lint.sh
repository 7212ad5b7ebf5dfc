#!/usr/bin/env bash
# The static gates that CI runs before the tests (`just lint`; scripts/test.sh
# runs this first): formatting, unused dependencies, the dependency policy of
# deny.toml (bans, licenses, sources; advisories are `just advisories`, on a
# schedule, as they need the network), then clippy with warnings as errors.
# Installs cargo-deny and cargo-machete from crates.io when they are missing
# (and rustfmt or clippy with rustup).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

export PATH="$HOME/.cargo/bin:$PATH"
for component in rustfmt clippy; do
    subcommand=${component/rustfmt/fmt}
    if ! cargo "$subcommand" --version >/dev/null 2>&1; then
        command -v rustup >/dev/null 2>&1 || die "cargo $subcommand is missing: install the $component component of your Rust toolchain"
        say "installing the $component component (rustup)"
        rustup component add "$component"
    fi
done
ensure_cargo_tool cargo-deny cargo-deny "$CARGO_DENY_VERSION"
ensure_cargo_tool cargo-machete cargo-machete "$CARGO_MACHETE_VERSION"

say "formatting (cargo fmt --check)"
cargo fmt --all --check

say "unused dependencies (cargo machete)"
cargo machete

say "dependency policy: bans, licenses, sources (cargo deny, deny.toml)"
cargo deny --locked check --hide-inclusion-graph bans licenses sources

say "clippy, warnings as errors"
cargo clippy --workspace --all-targets --locked -- -D warnings

# The SDK must stay publishable: argus-client with the three workspace crates
# it depends on, packaged together (cargo resolves the SDK's dependencies on
# them through a local overlay of the packages it just built). Not verified
# by building them again: the clippy and test runs build the same code.
say "the SDK packages (cargo package -p argus-types -p argus-provenance -p argus-jwks -p argus-client)"
cargo package --locked --no-verify --allow-dirty -p argus-types -p argus-provenance -p argus-jwks -p argus-client
