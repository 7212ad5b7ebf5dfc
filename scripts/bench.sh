#!/usr/bin/env bash
# `just bench NAME`: builds release binaries and runs one benchmark against a
# throw-away database, printing the figures the issue asks for.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

name="${1:-tokens}"
ensure_services
export ARGUS_LOG_FORMAT=json RUST_LOG=warn
db=argus_bench
export ARGUS_DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db"
admin_url="postgres://postgres@127.0.0.1:5432/postgres"

say "building release binaries"
cargo build --release --bin auth-service --bin api-service --bin delivery-worker --bin argusctl --bin argus-bench
bin=target/release

psql "$admin_url" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
psql "$admin_url" -qc "CREATE DATABASE $db" >/dev/null
"$bin/argusctl" migrate >/dev/null
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    psql "$admin_url" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null || true
}
trap cleanup EXIT

start_auth() {
    export ARGUS_AUTH_ADDR=127.0.0.1:18080 ARGUS_ISSUER=http://127.0.0.1:18080
    # The benchmark measures issuance, not the abuse limits.
    ARGUS_TOKEN_RATE_PER_CLIENT=1000000 ARGUS_TOKEN_RATE_PER_IP=1000000 "$bin/auth-service" &
    pids+=($!)
    for _ in $(seq 1 100); do curl -fsS "http://$ARGUS_AUTH_ADDR/readyz" >/dev/null 2>&1 && return; sleep 0.1; done
    die "auth-service did not start"
}

case "$name" in
    tokens)
        start_auth
        admin=$("$bin/argusctl" tenant create --name bench | sed -n 's/.*"admin_token": "\(.*\)".*/\1/p')
        app=$(curl -fsS -X POST "http://$ARGUS_AUTH_ADDR/v1/platform/apps" -H "Authorization: Bearer $admin" \
            -H 'Content-Type: application/json' \
            -d '{"name":"bench","grant_types":["client_credentials"],"requested_scopes":["webhooks:write"]}')
        client_id=$(sed -n 's/.*"client_id":"\([^"]*\)".*/\1/p' <<<"$app")
        secret=$(sed -n 's/.*"client_secret":"\([^"]*\)".*/\1/p' <<<"$app")
        say "client_credentials at concurrency 64 for 20 s, beside single-core RS256 signing"
        "$bin/argus-bench" tokens --auth "http://$ARGUS_AUTH_ADDR" --client-id "$client_id" --client-secret "$secret"
        ;;
    webhooks)
        # Its own exchanges and queues, so a `just up` stack is not disturbed.
        ARGUS_BUS_PREFIX=argusbench ARGUS_WORKER_ADMIN_ADDR=127.0.0.1:18082 ARGUS_WEBHOOK_ALLOW_PRIVATE=true \
            ARGUS_WORKER_CONCURRENCY=128 "$bin/delivery-worker" &
        pids+=($!)
        for _ in $(seq 1 100); do curl -fsS http://127.0.0.1:18082/readyz >/dev/null 2>&1 && break; sleep 0.1; done
        say "events into 10 webhooks at 500 and 2500 deliveries/s, 15 s each"
        "$bin/argus-bench" webhooks --webhooks 10 --rates 500,2500 --seconds 15
        ;;
    graphql)
        start_auth
        ARGUS_API_ADDR=127.0.0.1:18081 ARGUS_JWKS_URL="http://$ARGUS_AUTH_ADDR/.well-known/jwks.json" \
            "$bin/api-service" &
        pids+=($!)
        for _ in $(seq 1 100); do curl -fsS http://127.0.0.1:18081/readyz >/dev/null 2>&1 && break; sleep 0.1; done
        created=$("$bin/argusctl" tenant create --name bench)
        admin=$(sed -n 's/.*"admin_token": "\(.*\)".*/\1/p' <<<"$created")
        tenant=$(sed -n 's/.*"tenant_id": "\(.*\)".*/\1/p' <<<"$created")
        app=$(curl -fsS -X POST "http://$ARGUS_AUTH_ADDR/v1/platform/apps" -H "Authorization: Bearer $admin" \
            -H 'Content-Type: application/json' \
            -d '{"name":"bench","grant_types":["client_credentials"],"requested_scopes":["incidents:read","incidents:write"]}')
        client_id=$(sed -n 's/.*"client_id":"\([^"]*\)".*/\1/p' <<<"$app")
        secret=$(sed -n 's/.*"client_secret":"\([^"]*\)".*/\1/p' <<<"$app")
        bundle=incident-webhook-configuration
        loaded=$("$bin/argusctl" bundle load "docs/bundles/$bundle.graphql")
        op_id() { grep -B1 "\"operation\": \"$1\"" <<<"$loaded" | sed -n 's/.*"id": "\(sha256:[0-9a-f]*\)".*/\1/p'; }
        "$bin/argusctl" bundle grant --tenant "$tenant" --app "$client_id" --bundle "$bundle" >/dev/null
        token=$(curl -fsS -u "$client_id:$secret" -d grant_type=client_credentials \
            "http://$ARGUS_AUTH_ADDR/v1/oauth/token" | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
        say "persisted IncidentById at concurrency 64 for 10 s, beside /healthz of the same server"
        "$bin/argus-bench" graphql --api http://127.0.0.1:18081 --token "$token" --tenant "$tenant" \
            --read-id "$(op_id IncidentById)" --create-id "$(op_id CreateIncident)"
        ;;
    *)
        die "unknown benchmark '$name' (known: tokens, webhooks, graphql)"
        ;;
esac
