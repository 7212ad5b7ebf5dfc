#!/usr/bin/env bash
# Checks evidence provenance independently of the Rust code that writes it
# (scripts/provenance-check/check.js): ML-DSA-65 tree heads verified with
# @noble/post-quantum, PROV-O JSON-LD expanded with jsonld.js. The
# api-service's provenance tests run it.
#   bash scripts/provenance-check.sh verify-ml-dsa TRANSCRIPT KEYS
#   bash scripts/provenance-check.sh expand-jsonld FILE
#   bash scripts/provenance-check.sh --install   install only
# Installs what it needs when it is missing: Node.js and npm (Debian), and the
# npm packages package-lock.json pins, into target/provenance-check; exits 3
# if it cannot.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
. "$repo/scripts/lib.sh"

# Exit status 3: the checker could not be installed (no Node.js and no way
# to install it, or no registry); the tests then skip, saying so.
if ! (ensure_npm_tool provenance-check "the provenance checks (@noble/post-quantum, jsonld)"); then
    echo "provenance-check: could not install the checker" >&2
    exit 3
fi
npm_tool_home="$repo/target/provenance-check"

[ "${1:-}" = "--install" ] && exit 0
NODE_PATH="$npm_tool_home/node_modules" exec node "$repo/scripts/provenance-check/check.js" "$@"
