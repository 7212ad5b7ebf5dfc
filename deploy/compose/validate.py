#!/usr/bin/env python3
"""This project's rules for deploy/compose.yaml, beyond the Compose schema
(which deploy/k8s/check.sh checks with check-jsonschema). Offline.

    validate.py [--self-test] DEPLOY_DIR

Rules: depends_on names existing services, `service_healthy` ones have a
healthcheck and `service_completed_successfully` ones run once; every
long-running service has a healthcheck unless its image has no shell (listed
below); ports are published on 127.0.0.1 only; bind-mounted files exist;
each Argus service runs a binary the image ships, binds its admin address to
0.0.0.0 and is scraped there by Prometheus; every scrape target and OTLP
endpoint names a service of the file; PostgreSQL compresses with lz4.

--self-test breaks a copy of the files in each of those ways and fails
unless every break is reported: the check cannot pass by checking nothing.
Prints one line per problem and exits 1 if there is any.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from urllib.parse import urlsplit

import yaml

ARGUS_IMAGE = "argus:compose"
SHIPPED_BINARIES = {"auth-service", "api-service", "delivery-worker", "argusctl"}
# The variable of each service's admin address (GET /metrics, /healthz, /readyz).
ADMIN_ADDR = {
    "auth-service": "ARGUS_AUTH_ADMIN_ADDR",
    "api-service": "ARGUS_API_ADMIN_ADDR",
    "delivery-worker": "ARGUS_WORKER_ADMIN_ADDR",
}
# Images without a shell or HTTP client: no healthcheck can run in them.
NO_HEALTHCHECK = {"otel-collector"}


def load(deploy: Path) -> tuple[dict, dict, dict]:
    def read(path: Path) -> dict:
        with path.open(encoding="utf-8") as f:
            return yaml.safe_load(f) or {}

    return (
        read(deploy / "compose.yaml"),
        read(deploy / "compose" / "prometheus.yml"),
        read(deploy / "compose" / "otel-collector.yaml"),
    )


def host_port(address: str) -> tuple[str, str]:
    host, _, port = address.rpartition(":")
    return host, port


def check(compose: dict, prometheus: dict, collector: dict, deploy: Path) -> list[str]:
    problems: list[str] = []
    services: dict = compose.get("services") or {}

    for name, svc in services.items():
        env = svc.get("environment") or {}
        if not isinstance(env, dict):
            problems.append(f"{name}: environment must be a mapping (KEY: value)")
            env = {}
        deps = svc.get("depends_on") or {}
        for dep, cond in (deps.items() if isinstance(deps, dict) else ((d, {}) for d in deps)):
            condition = (cond or {}).get("condition", "service_started")
            if dep not in services:
                problems.append(f"{name}: depends_on {dep}, which is not a service")
            elif condition == "service_healthy" and "healthcheck" not in services[dep]:
                problems.append(f"{name}: waits for {dep} to be healthy, but {dep} has no healthcheck")
            elif condition == "service_completed_successfully" and services[dep].get("restart") != "no":
                problems.append(f"{name}: waits for {dep} to complete, but {dep} restarts (set restart: \"no\")")

        runs_once = svc.get("restart") == "no"
        if not runs_once and name not in NO_HEALTHCHECK and "healthcheck" not in svc:
            problems.append(f"{name}: no healthcheck")

        for port in svc.get("ports") or []:
            if not (isinstance(port, str) and port.startswith("127.0.0.1:")):
                problems.append(f"{name}: port {port!r} is not published on 127.0.0.1 only")

        for volume in svc.get("volumes") or []:
            source = volume.split(":", 1)[0] if isinstance(volume, str) else volume.get("source", "")
            if source.startswith(".") and not (deploy / source).is_file():
                problems.append(f"{name}: mounts {source}, which does not exist beside compose.yaml")

        if svc.get("image") == ARGUS_IMAGE:
            entrypoint = svc.get("entrypoint") or []
            binary = Path(entrypoint[0]).name if entrypoint else ""
            if binary not in SHIPPED_BINARIES:
                problems.append(f"{name}: entrypoint {entrypoint!r} is not a binary the image ships")
            endpoint = env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "")
            if urlsplit(endpoint).hostname not in services:
                problems.append(f"{name}: OTEL_EXPORTER_OTLP_ENDPOINT {endpoint!r} is not a service of this file")

        if name in ADMIN_ADDR:
            variable = ADMIN_ADDR[name]
            host, port = host_port(str(env.get(variable, "")))
            if host != "0.0.0.0":
                problems.append(f"{name}: {variable} must bind 0.0.0.0 in a container, not {env.get(variable)!r}")
            if f"{name}:{port}" not in scrape_targets(prometheus):
                problems.append(f"{name}: Prometheus does not scrape its admin address {name}:{port}")

    for target in scrape_targets(prometheus):
        host, _ = host_port(target)
        if host not in services and host not in {"127.0.0.1", "localhost"}:
            problems.append(f"prometheus.yml: target {target} is not a service of compose.yaml")

    for exporter, conf in (collector.get("exporters") or {}).items():
        host, _ = host_port(str((conf or {}).get("endpoint", "")))
        if host not in services:
            problems.append(f"otel-collector.yaml: exporter {exporter} sends to {host!r}, not a service of compose.yaml")

    command = " ".join(services.get("postgres", {}).get("command") or [])
    if "default_toast_compression=lz4" not in command:
        problems.append("postgres: the command must set default_toast_compression=lz4")
    return problems


def scrape_targets(prometheus: dict) -> set[str]:
    return {
        target
        for job in prometheus.get("scrape_configs") or []
        for static in job.get("static_configs") or []
        for target in static.get("targets") or []
    }


def self_test(compose: dict, prometheus: dict, collector: dict, deploy: Path) -> list[str]:
    """Each break must be reported; returns the breaks that were not."""

    def drop(d: dict, *path: str) -> None:
        for key in path[:-1]:
            d = d[key]
        del d[path[-1]]

    breaks = {
        "a dependency's healthcheck removed": lambda c, p, o: drop(c, "services", "postgres", "healthcheck"),
        "a one-shot that restarts": lambda c, p, o: c["services"]["migrate"].update(restart="always"),
        "depends_on an unknown service": lambda c, p, o: c["services"]["api-service"]["depends_on"].update(
            redis={"condition": "service_started"}
        ),
        "a port published on every interface": lambda c, p, o: c["services"]["jaeger"].update(
            ports=["16686:16686"]
        ),
        "a missing bind-mounted file": lambda c, p, o: c["services"]["prometheus"].update(
            volumes=["./compose/missing.yml:/etc/prometheus/prometheus.yml:ro"]
        ),
        "an admin address on loopback": lambda c, p, o: c["services"]["api-service"]["environment"].update(
            ARGUS_API_ADMIN_ADDR="127.0.0.1:9081"
        ),
        "an admin address not scraped": lambda c, p, o: p["scrape_configs"].pop(0),
        "a scrape target that is no service": lambda c, p, o: p["scrape_configs"][0]["static_configs"][0][
            "targets"
        ].append("grafana:3000"),
        "an unknown binary": lambda c, p, o: c["services"]["auth-service"].update(entrypoint=["/usr/local/bin/nope"]),
        "an OTLP endpoint that is no service": lambda c, p, o: c["services"]["delivery-worker"]["environment"].update(
            OTEL_EXPORTER_OTLP_ENDPOINT="http://collector.example:4318"
        ),
        "a collector exporting nowhere known": lambda c, p, o: next(iter(o["exporters"].values())).update(
            endpoint="tempo:4317"
        ),
        "PostgreSQL without lz4": lambda c, p, o: c["services"]["postgres"].update(command=["postgres"]),
        "a service without a healthcheck": lambda c, p, o: drop(c, "services", "delivery-worker", "healthcheck"),
    }
    missed = []
    for what, apply in breaks.items():
        c, p, o = copy.deepcopy(compose), copy.deepcopy(prometheus), copy.deepcopy(collector)
        apply(c, p, o)
        if not check(c, p, o, deploy):
            missed.append(what)
    return missed


def main() -> int:
    args = sys.argv[1:]
    run_self_test = "--self-test" in args
    args = [a for a in args if a != "--self-test"]
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    deploy = Path(args[0])
    files = load(deploy)
    problems = check(*files, deploy)
    for problem in problems:
        print(f"ERROR compose: {problem}")
    if run_self_test:
        for what in self_test(*files, deploy):
            problems.append(what)
            print(f"ERROR compose self-test: {what} was not reported")
    if not problems:
        services = len(files[0].get("services") or {})
        print(f"    compose.yaml: {services} services, project rules OK" + (" (self-test OK)" if run_self_test else ""))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
