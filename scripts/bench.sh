#!/usr/bin/env bash
# `just bench NAME`: builds release binaries and runs one benchmark against a
# throw-away database, printing the figures the issue asks for.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

name="${1:-tokens}"
ensure_services
if ! command -v wrk >/dev/null 2>&1; then
    say "installing wrk (Debian package)"
    apt-get install -y -qq wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
fi
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
        say "single-core RS256 signing rate of the same key, in process"
        signing=$("$bin/argus-bench" signing --seconds 5)
        echo "$signing"
        ceiling=$(sed -n 's/.*"signing_ceiling_per_second": \([0-9.]*\).*/\1/p' <<<"$signing")
        say "client_credentials at concurrency 64 for 20 s (wrk, 2 threads)"
        lua=$(mktemp)
        printf 'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\nwrk.body = "grant_type=client_credentials"\n' > "$lua"
        out=$(wrk -t2 -c64 -d20s --latency -s "$lua" \
            -H "Authorization: Basic $(printf '%s:%s' "$client_id" "$secret" | base64 -w0)" \
            "http://$ARGUS_AUTH_ADDR/v1/oauth/token")
        rm -f "$lua"
        echo "$out"
        grep -q "Non-2xx" <<<"$out" && die "some token requests failed"
        rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
        ms() { awk -v p="$1" '$1 == p { v = $2; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms$/, "", v) } else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 }; print v }' <<<"$out"; }
        printf '{"tokens_per_second": %s, "signing_ceiling_per_second": %s, "ratio": %s, "p50_ms": %s, "p99_ms": %s}\n' \
            "$rps" "$ceiling" "$(awk -v a="$rps" -v b="$ceiling" 'BEGIN { printf "%.2f", a / b }')" "$(ms 50%)" "$(ms 99%)"
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
        # A stand-in collector for the export-on run.
        "$bin/argus-bench" otlp-sink --addr 127.0.0.1:18318 &
        pids+=($!)
        start_api() {
            env "$@" ARGUS_API_ADDR=127.0.0.1:18081 ARGUS_JWKS_URL="http://$ARGUS_AUTH_ADDR/.well-known/jwks.json" \
                "$bin/api-service" &
            api_pid=$!
            pids+=($api_pid)
            for _ in $(seq 1 100); do curl -fsS http://127.0.0.1:18081/readyz >/dev/null 2>&1 && return; sleep 0.1; done
            die "api-service did not start"
        }
        stop_api() { kill -TERM "$api_pid"; wait "$api_pid" 2>/dev/null || true; }
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
        bench() {
            "$bin/argus-bench" graphql --api http://127.0.0.1:18081 --token "$token" --tenant "$tenant" \
                --read-id "$(op_id IncidentById)" --create-id "$(op_id CreateIncident)"
        }
        rate() { sed -n '/"persisted_read"/,/}/p' <<<"$1" | sed -n 's/.*"per_second": \([0-9.]*\).*/\1/p'; }
        say "tracing export OFF (no OTLP, no span store): persisted IncidentById at concurrency 64 for 10 s, beside /healthz"
        start_api OTEL_EXPORTER_OTLP_ENDPOINT= ARGUS_TRACE_STORE=false
        off=$(bench)
        echo "$off"
        stop_api
        say "tracing export ON (OTLP to a local collector, tenant spans to the span store): the same load"
        start_api OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:18318 ARGUS_TRACE_STORE=true
        on=$(bench)
        echo "$on"
        stop_api
        printf '{"graphql_per_second_export_off": %s, "graphql_per_second_export_on": %s, "throughput_overhead": %s}\n' \
            "$(rate "$off")" "$(rate "$on")" \
            "$(awk -v a="$(rate "$off")" -v b="$(rate "$on")" 'BEGIN { printf "%.3f", 1 - b / a }')"
        ;;
    *)
        die "unknown benchmark '$name' (known: tokens, webhooks, graphql)"
        ;;
esac
