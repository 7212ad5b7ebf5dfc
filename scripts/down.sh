#!/usr/bin/env bash
# Stops what `just up` started: SIGTERM, so each service drains, then waits.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

pids=.argus/pids
if [ ! -f "$pids" ]; then
    say "nothing is running (no $pids)"
    exit 0
fi
while read -r pid name; do
    if kill -0 "$pid" 2>/dev/null; then
        say "stopping $name (pid $pid)"
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
        kill -0 "$pid" 2>/dev/null && { say "$name did not stop in 10 s; killing it"; kill -KILL "$pid" 2>/dev/null || true; }
    fi
done < "$pids"
rm -f "$pids"
say "stopped"
