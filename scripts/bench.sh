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

# ARGUS_BENCH_BIN runs the benchmark on binaries built elsewhere (say, an
# earlier commit's release build, for a before-and-after comparison).
if [ -n "${ARGUS_BENCH_BIN:-}" ]; then
    bin=$ARGUS_BENCH_BIN
    say "using the binaries in $bin (not building)"
else
    say "building release binaries"
    cargo build --release --bin auth-service --bin api-service --bin delivery-worker --bin argusctl --bin argus-bench
    bin=target/release
fi

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
    export ARGUS_AUTH_ADDR=127.0.0.1:18080 ARGUS_AUTH_ADMIN_ADDR=127.0.0.1:19080 ARGUS_ISSUER=http://127.0.0.1:18080
    # The benchmark measures issuance, not the abuse limits.
    ARGUS_TOKEN_RATE_PER_CLIENT=1000000 ARGUS_TOKEN_RATE_PER_IP=1000000 "$bin/auth-service" &
    pids+=($!)
    for _ in $(seq 1 100); do curl -fsS "http://$ARGUS_AUTH_ADDR/readyz" >/dev/null 2>&1 && return; sleep 0.1; done
    die "auth-service did not start"
}

# An api-service on `port` with extra environment `NAME=value ...`.
start_api() {
    local port=$1
    shift
    env "$@" ARGUS_API_ADDR="127.0.0.1:$port" ARGUS_API_ADMIN_ADDR="127.0.0.1:$((port + 1000))" ARGUS_JWKS_URL="http://$ARGUS_AUTH_ADDR/.well-known/jwks.json" \
        "$bin/api-service" &
    pids+=($!)
    for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && return; sleep 0.1; done
    die "api-service did not start"
}

# A tenant with an app allowed the incident bundle, and its token: sets
# `tenant`, `token`, `read_id`, `create_id`, `update_id` and `ids` (argus-bench's
# flags).
graphql_reader() {
    local created admin app client_id secret bundle loaded
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
    read_id=$(op_id IncidentById)
    create_id=$(op_id CreateIncident)
    update_id=$(op_id UpdateIncident)
    ids=(--token "$token" --tenant "$tenant" --read-id "$read_id" --create-id "$create_id")
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
        # The common integration: one endpoint receiving every event, so
        # each event write carries one delivery (issue 26).
        say "events into 1 webhook at 750, 1000 and 1500 events/s, 15 s each"
        "$bin/argus-bench" webhooks --webhooks 1 --rates 750,1000,1500 --seconds 15
        # The real event source: a GraphQL updateIncident per event, through
        # an api-service (and its token from an auth-service).
        start_auth
        start_api 18081 OTEL_EXPORTER_OTLP_ENDPOINT=
        graphql_reader
        say "GraphQL updateIncident into 1 webhook at 300, 600 and 750 events/s, 15 s each"
        "$bin/argus-bench" webhooks --webhooks 1 --rates 300,600,750 --seconds 15 --graphql-api http://127.0.0.1:18081 \
            --token "$token" --tenant "$tenant" --create-id "$create_id" --update-id "$update_id"
        ;;
    webhooks-profile)
        # What PostgreSQL does per event on the one-webhook path (issue 26),
        # with events written in process and then by GraphQL updateIncident:
        # statements, their execution and planning time, transactions, WAL.
        # Needs pg_stat_statements loaded (a server setting and a restart):
        #   ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements';
        #   ALTER SYSTEM SET pg_stat_statements.track = 'all';
        #   ALTER SYSTEM SET pg_stat_statements.track_planning = on;
        [ "$(psql "$admin_url" -Atc "SHOW shared_preload_libraries")" = pg_stat_statements ] ||
            die "pg_stat_statements is not preloaded (see the comment above this line in scripts/bench.sh)"
        psql "$ARGUS_DATABASE_URL" -qc "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null
        ARGUS_BUS_PREFIX=argusbench ARGUS_WORKER_ADMIN_ADDR=127.0.0.1:18082 ARGUS_WEBHOOK_ALLOW_PRIVATE=true \
            ARGUS_WORKER_CONCURRENCY=128 "$bin/delivery-worker" &
        pids+=($!)
        for _ in $(seq 1 100); do curl -fsS http://127.0.0.1:18082/readyz >/dev/null 2>&1 && break; sleep 0.1; done
        totals() {
            psql "$ARGUS_DATABASE_URL" -AtF' ' -c "SELECT d.xact_commit, w.wal_records, w.wal_bytes, w.wal_sync
                FROM pg_stat_database d, pg_stat_wal w WHERE d.datname = current_database()"
        }
        # The two event sources, each given argus-bench's `--rates` and
        # `--seconds`: events written in process, and GraphQL updateIncident
        # (a tenant of its own each time, as one webhook is each tenant's cap).
        in_process() { "$bin/argus-bench" webhooks --webhooks 1 "$@"; }
        by_graphql() {
            graphql_reader
            "$bin/argus-bench" webhooks --webhooks 1 "$@" --graphql-api http://127.0.0.1:18081 \
                --token "$token" --tenant "$tenant" --create-id "$create_id" --update-id "$update_id"
        }
        # profile LABEL SOURCE: one warm-up phase (so connections have
        # prepared their statements), then 10 s at 500 events/s with the
        # statistics reset, and what PostgreSQL did per event.
        profile() {
            local label=$1 source=$2 out events xacts0 records0 wal0 syncs0 xacts1 records1 wal1 syncs1
            "$source" --rates 300 --seconds 3 >/dev/null
            psql "$ARGUS_DATABASE_URL" -qAtc "SELECT pg_stat_statements_reset()" >/dev/null
            sleep 0.6 # pg_stat_database is flushed by each backend at most every 0.5 s
            read -r xacts0 records0 wal0 syncs0 <<<"$(totals)"
            say "$label into 1 webhook at 500 events/s for 10 s, with pg_stat_statements"
            out=$("$source" --rates 500 --seconds 10)
            echo "$out"
            sleep 1.5 # the relay's last batches and the stats flushed
            read -r xacts1 records1 wal1 syncs1 <<<"$(totals)"
            events=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["phases"][0]["events"])' <<<"$out")
            say "per event, over $events events (this database's statements only)"
            psql "$ARGUS_DATABASE_URL" -P pager=off -c "
                SELECT round(sum(calls)::numeric / $events, 2) AS calls,
                       round((sum(total_exec_time) / $events)::numeric, 4) AS exec_ms,
                       round((sum(total_plan_time) / $events)::numeric, 4) AS plan_ms,
                       left(regexp_replace(query, '\s+', ' ', 'g'), 110) AS statement
                FROM pg_stat_statements
                WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
                GROUP BY query ORDER BY sum(total_exec_time + total_plan_time) DESC LIMIT 25"
            awk -v e="$events" -v x=$((xacts1 - xacts0)) -v r=$((records1 - records0)) -v b=$((wal1 - wal0)) -v s=$((syncs1 - syncs0)) \
                'BEGIN { printf "{\"transactions_per_event\": %.2f, \"wal_records_per_event\": %.1f, \"wal_bytes_per_event\": %.0f, \"wal_syncs_per_event\": %.2f}\n", x / e, r / e, b / e, s / e }'
        }
        profile "events written in process" in_process
        start_auth
        start_api 18081 OTEL_EXPORTER_OTLP_ENDPOINT=
        profile "GraphQL updateIncident" by_graphql
        ;;
    graphql)
        start_auth
        # A stand-in collector for the export-on run.
        "$bin/argus-bench" otlp-sink --addr 127.0.0.1:18318 &
        pids+=($!)
        # Three api-services over the same database: one with no tracing
        # destination, one with OTLP to the collector and tenants' spans to
        # the span store, and one with the span store only (the default
        # without a collector: export off).
        start_api 18081 OTEL_EXPORTER_OTLP_ENDPOINT= ARGUS_TRACE_STORE=false
        start_api 18083 OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:18318 ARGUS_TRACE_STORE=true
        start_api 18085 OTEL_EXPORTER_OTLP_ENDPOINT= ARGUS_TRACE_STORE=true
        graphql_reader
        say "persisted IncidentById at concurrency 64 for 10 s, beside /healthz for 10 s (tracing export off)"
        "$bin/argus-bench" graphql --api http://127.0.0.1:18081 "${ids[@]}"
        # Tracing's overhead: the machine's speed drifts from minute to
        # minute by more than the overhead (measured: back-to-back 10-s runs
        # of one configuration differed by up to 25%), so the three services
        # take turns in 3-s phases, the order rotating each round, each
        # phase after a 1-s uncounted warm-up that also lets the others'
        # last spans reach the collector and the span store; each under a
        # load sending no traceparent (the default sampling: the target is
        # every destination on against none) and one sampling every read
        # (the worst case, beside it). The export's and the span store's
        # shares are reported for both.
        say "tracing overhead: the same read against export off/on and span store off/on, at the default sampling and with every read sampled, 12 rounds of 3-s phases"
        "$bin/argus-bench" tracing-overhead --off http://127.0.0.1:18081 --store http://127.0.0.1:18085 \
            --on http://127.0.0.1:18083 "${ids[@]}"
        # What the span store grows by (table, TOAST and indexes), per
        # million reads, against the service with every destination on.
        say "span store bytes per million reads: 10 s of reads at the default sampling, then 10 s with every read sampled"
        store_size() { psql "$ARGUS_DATABASE_URL" -Atc "SELECT pg_total_relation_size('trace_span_batches')"; }
        bytes_per_million_reads() {
            local before after out reads
            sleep 1.5 # the last phase's spans written first
            before=$(store_size)
            out=$("$bin/argus-bench" graphql --api http://127.0.0.1:18083 "${ids[@]}" "$@")
            sleep 1.5 # the span store writes every 0.5 s
            after=$(store_size)
            reads=$(python3 -c 'import json, sys; r = json.load(sys.stdin)["persisted_read"]; print(r["ok"] + r["errors"])' <<<"$out")
            awk -v b="$before" -v a="$after" -v n="$reads" 'BEGIN { printf "%.0f", (n > 0 ? (a - b) / n * 1e6 : 0) }'
        }
        default_bytes=$(bytes_per_million_reads)
        sampled_bytes=$(bytes_per_million_reads --every-read-sampled)
        printf '{"span_store_bytes_per_million_reads": {"default_sampling": %s, "every_read_sampled": %s}}\n' \
            "$default_bytes" "$sampled_bytes"
        ;;
    jobs)
        say "graph algorithms alone, in process: 100k nodes, 1M edges (release build)"
        "$bin/argus-bench" graph-core --nodes 100000 --edges 1000000
        start_auth
        # Memory first, on processes of their own (so nothing else counts
        # in their peaks): three maximum-size imports (the default
        # ARGUS_JOBS_MAX_BODY_BYTES) at once, run at once by one worker.
        limit_mib() { awk '/limits:/ { l = 1 } l && /memory:/ { sub(/Mi$/, "", $2); print $2; exit }' "$1"; }
        ARGUS_API_ADDR=127.0.0.1:18086 ARGUS_API_ADMIN_ADDR=127.0.0.1:19086 ARGUS_JWKS_URL="http://$ARGUS_AUTH_ADDR/.well-known/jwks.json" \
            "$bin/api-service" &
        mem_api=$!
        pids+=($mem_api)
        ARGUS_BUS_PREFIX=argusbenchmem ARGUS_WORKER_ADMIN_ADDR=127.0.0.1:18087 ARGUS_JOBS_CONCURRENCY=3 \
            "$bin/delivery-worker" &
        mem_worker=$!
        pids+=($mem_worker)
        for port in 18086 18087; do
            for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
        done
        say "three maximum-size import.bulk jobs at once: peak resident memory beside the pods' limits"
        "$bin/argus-bench" jobs-memory --api http://127.0.0.1:18086 --issuer "$ARGUS_ISSUER" --count 3 \
            --api-pid "$mem_api" --api-limit-mib "$(limit_mib deploy/k8s/base/api-service.yaml)" \
            --worker-pid "$mem_worker" --worker-limit-mib "$(limit_mib deploy/k8s/base/delivery-worker.yaml)"
        kill -TERM "$mem_api" "$mem_worker"
        wait "$mem_api" "$mem_worker" 2>/dev/null || true
        # 100k nodes and 1M edges: the import's NDJSON (~110 MB) goes in the
        # POST body, so the body limit of /v1/jobs is raised for the run.
        ARGUS_API_ADDR=127.0.0.1:18081 ARGUS_API_ADMIN_ADDR=127.0.0.1:19081 ARGUS_JWKS_URL="http://$ARGUS_AUTH_ADDR/.well-known/jwks.json" \
            ARGUS_JOBS_MAX_BODY_BYTES=$((512 * 1024 * 1024)) "$bin/api-service" &
        pids+=($!)
        ARGUS_BUS_PREFIX=argusbench ARGUS_WORKER_ADMIN_ADDR=127.0.0.1:18082 ARGUS_JOBS_CONCURRENCY=1 \
            "$bin/delivery-worker" &
        pids+=($!)
        for port in 18081 18082; do
            for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
        done
        venv="${XDG_CACHE_HOME:-$HOME/.cache}/argus-bench-networkx"
        if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import networkx, scipy' 2>/dev/null; then
            say "installing networkx and scipy into $venv (PyPI)"
            python3 -m venv "$venv"
            "$venv/bin/pip" install -q "networkx==3.5" "scipy>=1.13" "numpy>=2"
        fi
        edges=$(mktemp)
        pagerank='{"damping":0.85,"max_iterations":100,"tolerance":1e-6}'
        say "import.bulk of 100k entities and 1M relationships, then graph.compute PageRank (release builds)"
        ours=$("$bin/argus-bench" jobs --api http://127.0.0.1:18081 --issuer "$ARGUS_ISSUER" \
            --nodes 100000 --edges 1000000 --edge-list "$edges" \
            --input "{\"algorithms\":[\"pagerank\"],\"pagerank\":$pagerank,\"top\":10}")
        echo "$ours"
        say "networkx pagerank on the same graph (same damping, iterations, tolerance)"
        theirs=$("$venv/bin/python" scripts/networkx_pagerank.py "$edges" 100000 0.85 100 1e-6)
        rm -f "$edges"
        echo "$theirs"
        field() { sed -n "s/.*\"$2\": *\([0-9.e+-]*\).*/\1/p" <<<"$1" | head -n1; }
        e2e=$(field "$ours" pagerank_end_to_end_seconds)
        nx_pr=$(field "$theirs" networkx_pagerank_seconds)
        nx_all=$(awk -v a="$(field "$theirs" networkx_load_seconds)" -v b="$nx_pr" 'BEGIN { print a + b }')
        printf '{"import_rows_per_second": %s, "pagerank_end_to_end_seconds": %s, "networkx_pagerank_seconds": %s, "networkx_load_and_pagerank_seconds": %s, "ratio_vs_networkx_pagerank": %s, "ratio_vs_networkx_load_and_pagerank": %s, "target_ratio": 20}\n' \
            "$(field "$ours" import_rows_per_second)" "$e2e" "$nx_pr" "$nx_all" \
            "$(awk -v a="$nx_pr" -v b="$e2e" 'BEGIN { printf "%.2f", a / b }')" \
            "$(awk -v a="$nx_all" -v b="$e2e" 'BEGIN { printf "%.2f", a / b }')"
        ;;
    epcr)
        start_auth
        start_api 18081 OTEL_EXPORTER_OTLP_ENDPOINT=
        say "FHIR R4 export of an encounter with 50 observations, at concurrency 32 for 10 s"
        "$bin/argus-bench" epcr --api http://127.0.0.1:18081 --issuer "$ARGUS_ISSUER" --observations 50
        ;;
    provenance)
        say "an evidence transcript of 10,000 entries appended one at a time, then verified (each algorithm)"
        "$bin/argus-bench" provenance --entries 10000
        ;;
    graphql-instructions)
        # CPU instructions per persisted read, counted by callgrind: the same
        # for the same binary and inputs whatever else the machine does, so
        # two builds compare to a fraction of a percent where throughput
        # phases drift by several.
        command -v valgrind >/dev/null 2>&1 || { say "installing valgrind (Debian package)"; apt-get install -y -qq valgrind >/dev/null; }
        start_auth
        graphql_reader
        out=$(mktemp -d)
        OTEL_EXPORTER_OTLP_ENDPOINT= ARGUS_TRACE_STORE=false ARGUS_API_ADDR=127.0.0.1:18087 ARGUS_API_ADMIN_ADDR=127.0.0.1:19087 \
            ARGUS_JWKS_URL="http://$ARGUS_AUTH_ADDR/.well-known/jwks.json" \
            valgrind --tool=callgrind --callgrind-out-file="$out/callgrind.out" "$bin/api-service" 2>"$out/valgrind.log" &
        api=$!
        pids+=($api)
        for _ in $(seq 1 600); do curl -fsS http://127.0.0.1:18087/readyz >/dev/null 2>&1 && break; sleep 0.2; done
        reads=2000
        say "persisted IncidentById: 300 reads to warm up, then $reads counted, one at a time, under callgrind"
        python3 scripts/graphql_instructions.py --api http://127.0.0.1:18087 --token "$token" --tenant "$tenant" \
            --create-id "$create_id" --read-id "$read_id" --reads "$reads" --pid "$api" --dump-dir "$out"
        rm -rf "$out"
        ;;
    *)
        die "unknown benchmark '$name' (known: tokens, webhooks, webhooks-profile, graphql, graphql-instructions, jobs, epcr, provenance)"
        ;;
esac
