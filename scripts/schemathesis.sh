#!/usr/bin/env bash
# Fuzzes a running service through its own OpenAPI document with
# schemathesis (https://schemathesis.io, from PyPI, the version pinned
# below), in a virtualenv kept in target/schemathesis (out of the source
# tree). The api-service's test `schemathesis` starts an auth-service and an
# api-service and runs this against both documents with a real token.
#   bash scripts/schemathesis.sh --install          install only
#   bash scripts/schemathesis.sh SCHEMA_URL [ARGS]  `st run SCHEMA_URL ARGS`
# Needs python3 with venv; installs schemathesis when it is missing.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
. "$repo/scripts/lib.sh"

SCHEMATHESIS_VERSION=4.32.5
home="$repo/target/schemathesis"
venv="$home/venv"

mkdir -p "$home"
# One install at a time, however many tests ask at once.
exec 9>"$home/.lock"
flock 9
if [ "$("$venv/bin/st" --version 2>/dev/null || true)" != "st, version $SCHEMATHESIS_VERSION" ]; then
    command -v python3 >/dev/null 2>&1 || die "schemathesis needs python3 (with venv)"
    say "installing schemathesis $SCHEMATHESIS_VERSION (PyPI) into $venv" >&2
    rm -rf "$venv"
    python3 -m venv "$venv" || die "cannot create a virtualenv in $venv: install python3-venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
        "schemathesis==$SCHEMATHESIS_VERSION" >&2 \
        || die "cannot install schemathesis $SCHEMATHESIS_VERSION from PyPI"
fi
flock -u 9

[ "${1:-}" = "--install" ] && exit 0
[ $# -ge 1 ] || die "usage: $0 --install | SCHEMA_URL [st run options]"
# Its own files (.schemathesis/) stay in target/, whoever calls it.
cd "$home"
exec "$venv/bin/st" run "$@"
