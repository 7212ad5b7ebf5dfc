# Argus: the two everyday commands are `just up` and `just test`.

set shell := ["bash", "-euo", "pipefail", "-c"]

# List the recipes.
default:
    @just --list

# Build and start the whole stack (migrations, auth-service, api-service, delivery-worker) against local PostgreSQL and RabbitMQ.
up:
    bash scripts/up.sh

# Walk the integration guide's public flow against the stack `just up` started.
demo:
    bash scripts/demo.sh

# Stop what `just up` started.
down:
    bash scripts/down.sh

# CI: the lint gates, then every test (unit, integration, end to end) against the local PostgreSQL and RabbitMQ, then the deployment files' checks.
test:
    bash scripts/test.sh

# The gates `just test` runs first: rustfmt, unused dependencies (cargo machete), cargo deny (bans, licenses, sources), clippy -D warnings.
lint:
    bash scripts/lint.sh

# Look up Cargo.lock in the RustSec advisory database (needs the network; scheduled, not in `just test`).
advisories:
    bash scripts/advisories.sh

# Format the code.
fmt:
    cargo fmt --all

# Render every Kubernetes overlay and validate it against the Kubernetes schemas, offline; lint the Dockerfile; validate deploy/compose.yaml.
k8s-check:
    bash deploy/k8s/check.sh

# Run a benchmark against release builds: `just bench tokens`.
bench name="tokens":
    bash scripts/bench.sh {{name}}
