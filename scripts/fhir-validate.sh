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

src="$repo/scripts/fhir-validator"
home="$repo/target/fhir-validator"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    command -v apt-get >/dev/null 2>&1 \
        || die "the FHIR export's validator needs Node.js and npm: install them, then run this again"
    say "installing nodejs and npm (Debian), for the FHIR R4 schema validator" >&2
    sudo_cmd=()
    [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq nodejs npm >/dev/null
fi

mkdir -p "$home"
# One install at a time, however many tests ask at once.
exec 9>"$home/.lock"
flock 9
if ! cmp -s "$src/package-lock.json" "$home/package-lock.json" || [ ! -d "$home/node_modules" ]; then
    say "installing the FHIR R4 schema validator (npm, pinned by package-lock.json) into $home" >&2
    cp "$src/package.json" "$src/package-lock.json" "$home/"
    (cd "$home" && npm ci --omit=dev --no-audit --no-fund --loglevel=error >&2)
fi
flock -u 9

[ "${1:-}" = "--install" ] && exit 0
NODE_PATH="$home/node_modules" exec node "$src/validate.js" "$@"
