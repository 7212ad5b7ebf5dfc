#!/usr/bin/env bash
# Builds the binaries, migrates the database, starts auth-service,
# api-service and delivery-worker in the background, waits until each is
# ready, creates a tenant and prints how to use it. `just down` stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

state=.argus
mkdir -p "$state/logs"
[ -f .env ] && { set -a; . ./.env; set +a; }

export ARGUS_DATABASE_URL="${ARGUS_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/argus}"
export ARGUS_AMQP_URL="${ARGUS_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}"
export ARGUS_AUTH_ADDR="${ARGUS_AUTH_ADDR:-127.0.0.1:8080}"
export ARGUS_API_ADDR="${ARGUS_API_ADDR:-127.0.0.1:8081}"
export ARGUS_WORKER_ADMIN_ADDR="${ARGUS_WORKER_ADMIN_ADDR:-127.0.0.1:8082}"
export ARGUS_AUTH_ADMIN_ADDR="${ARGUS_AUTH_ADMIN_ADDR:-127.0.0.1:9080}"
export ARGUS_API_ADMIN_ADDR="${ARGUS_API_ADMIN_ADDR:-127.0.0.1:9081}"
export ARGUS_ISSUER="${ARGUS_ISSUER:-http://$ARGUS_AUTH_ADDR}"
export ARGUS_WEBHOOK_ALLOW_PRIVATE="${ARGUS_WEBHOOK_ALLOW_PRIVATE:-true}"
export ARGUS_LOG_FORMAT="${ARGUS_LOG_FORMAT:-json}"
profile="${ARGUS_PROFILE:-dev}"

if [ -f "$state/pids" ]; then
    say "a stack is already running; stopping it first"
    bash scripts/down.sh
fi

ensure_services

db_name="${ARGUS_DATABASE_URL##*/}"; db_name="${db_name%%\?*}"
admin_url="${ARGUS_DATABASE_URL%/*}/postgres"
if [ "$(psql "$admin_url" -Atc "SELECT 1 FROM pg_database WHERE datname = '$db_name'")" != "1" ]; then
    say "creating database $db_name"
    psql "$admin_url" -qc "CREATE DATABASE \"$db_name\"" >/dev/null
fi

say "building the binaries ($profile profile; the first build takes several minutes)"
cargo build --profile "$profile" --bins
bin="target/$([ "$profile" = dev ] && echo debug || echo "$profile")"

say "migrating the database"
"$bin/argusctl" migrate >/dev/null

: > "$state/pids"
start() {
    local name=$1
    "$bin/$name" >"$state/logs/$name.log" 2>&1 &
    echo "$! $name" >> "$state/pids"
}
start auth-service
start api-service
start delivery-worker

wait_ready() {
    local name=$1 addr=$2
    for _ in $(seq 1 60); do
        if curl -fsS "http://$addr/readyz" >/dev/null 2>&1; then say "$name is ready on http://$addr"; return; fi
        sleep 0.5
    done
    tail -n 20 "$state/logs/$name.log" >&2 || true
    bash scripts/down.sh
    die "$name did not become ready; its log is above ($state/logs/$name.log)"
}
wait_ready auth-service "$ARGUS_AUTH_ADDR"
wait_ready api-service "$ARGUS_API_ADDR"
wait_ready delivery-worker "$ARGUS_WORKER_ADMIN_ADDR"

tenant_json=$("$bin/argusctl" tenant create --name "Local development" --ttl 86400)
echo "$tenant_json" > "$state/tenant.json"
tenant_id=$(sed -n 's/.*"tenant_id": "\(.*\)".*/\1/p' <<<"$tenant_json")
admin_token=$(sed -n 's/.*"admin_token": "\(.*\)".*/\1/p' <<<"$tenant_json")

cat <<MSG

Argus is running.

  auth-service     http://$ARGUS_AUTH_ADDR   (auth.knogin.com)
  api-service      http://$ARGUS_API_ADDR   (api.knogin.com)
  delivery-worker  http://$ARGUS_WORKER_ADMIN_ADDR/readyz (admin port only)
  metrics          http://$ARGUS_AUTH_ADMIN_ADDR/metrics, http://$ARGUS_API_ADMIN_ADDR/metrics,
                   http://$ARGUS_WORKER_ADMIN_ADDR/metrics (Prometheus text)
  logs             $state/logs/
  OpenAPI          http://$ARGUS_AUTH_ADDR/.well-known/openapi.json,
                   http://$ARGUS_API_ADDR/.well-known/openapi.json
  API catalog      http://$ARGUS_API_ADDR/.well-known/api-catalog (RFC 9727)
  JWKS             http://$ARGUS_AUTH_ADDR/.well-known/jwks.json

A tenant was created for you (also saved in $state/tenant.json):

  tenant_id    $tenant_id
  admin token  valid 24 h; mint another with:
               $bin/argusctl token admin --tenant $tenant_id

Try it:

  export TOKEN=$admin_token
  curl -s http://$ARGUS_AUTH_ADDR/v1/platform/scopes -H "Authorization: Bearer \$TOKEN"
  curl -s -X POST http://$ARGUS_AUTH_ADDR/v1/platform/apps \\
    -H "Authorization: Bearer \$TOKEN" -H "Content-Type: application/json" \\
    -d '{"name":"Case sync connector","grant_types":["client_credentials"],"redirect_uris":[],"requested_scopes":["webhooks:write"]}'

Stop everything with: just down
MSG
