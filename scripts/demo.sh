#!/usr/bin/env bash
# `just demo`: runs the integration guide's flow against the local stack.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

[ -f .env ] && { set -a; . ./.env; set +a; }
export ARGUS_AUTH_URL="http://${ARGUS_AUTH_ADDR:-127.0.0.1:8080}"
export ARGUS_ISSUER="${ARGUS_ISSUER:-$ARGUS_AUTH_URL}"
curl -fsS "$ARGUS_AUTH_URL/readyz" >/dev/null 2>&1 || die "auth-service is not answering on $ARGUS_AUTH_URL: start the stack with 'just up'"
[ -f .argus/tenant.json ] || die "no tenant from 'just up' (.argus/tenant.json); run 'just up' first"
tenant_id=$(sed -n 's/.*"tenant_id": "\(.*\)".*/\1/p' .argus/tenant.json)
profile="${ARGUS_PROFILE:-dev}"
bin="target/$([ "$profile" = dev ] && echo debug || echo "$profile")"
say "minting a fresh admin token for $tenant_id"
ARGUS_ADMIN_TOKEN=$("$bin/argusctl" token admin --tenant "$tenant_id" | sed -n 's/.*"admin_token": "\(.*\)".*/\1/p')
export ARGUS_ADMIN_TOKEN
say "building the demo"
cargo build --profile "$profile" -p argus-client --example demo
"$bin/examples/demo"
