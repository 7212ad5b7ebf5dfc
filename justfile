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

# Run every test (unit, integration, end to end) against the local PostgreSQL and RabbitMQ.
test:
    bash scripts/test.sh

# Formatting and clippy, as CI checks them.
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings

# Format the code.
fmt:
    cargo fmt --all

# Render every Kubernetes overlay and validate it against the Kubernetes schemas, offline; lint the Dockerfile.
k8s-check:
    bash deploy/k8s/check.sh

# Run a benchmark against release builds: `just bench tokens`.
bench name="tokens":
    bash scripts/bench.sh {{name}}
