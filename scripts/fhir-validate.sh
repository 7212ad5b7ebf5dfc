#!/usr/bin/env bash
# Checks FHIR R4 document Bundles against the official R4 JSON schema and the
# document rules (scripts/fhir-validator/validate.js), independently of the
# Rust code that writes them. The api-service's FHIR export test runs it.
#   bash scripts/fhir-validate.sh FILE...    validate (installing first if needed)
#   bash scripts/fhir-validate.sh --install  install only
# Installs what it needs when it is missing: Node.js and npm (Debian), and the
# validator's npm packages at the versions package-lock.json pins, into
# target/fhir-validator (kept out of the source tree).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
. "$repo/scripts/lib.sh"

ensure_npm_tool fhir-validator "the FHIR R4 schema validator"

[ "${1:-}" = "--install" ] && exit 0
NODE_PATH="$npm_tool_home/node_modules" exec node "$repo/scripts/fhir-validator/validate.js" "$@"
