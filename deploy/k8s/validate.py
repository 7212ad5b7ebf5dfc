#!/usr/bin/env python3
"""Validate rendered Kubernetes manifests offline. Run by deploy/k8s/check.sh.

    validate.py [--k8s-version 1.30 ...] [--production OVERLAY] NAME=FILE ...

Each FILE is the output of `kustomize build` for the overlay NAME. Three
kinds of check, all offline:

1. schema: every object against the Kubernetes OpenAPI schemas shipped by the
   `kubernetes-validate` package, in strict mode (unknown fields are errors),
   for every requested Kubernetes version. An object whose kind/apiVersion has
   no schema (a typo, a removed API such as autoscaling/v2beta2, or a CRD) is
   an error too; the only CRDs used, the Prometheus Operator's ServiceMonitor
   and PrometheusRule (components/monitoring), are checked against strict
   schemas of their own, with their PromQL, in validate_monitoring.py.
2. references: Services, PodDisruptionBudgets and NetworkPolicies select
   existing pods; HPAs, Ingress backends, ConfigMap and Secret references point
   at objects that exist (the Secret `argus-secrets` may be external);
   no object is defined twice; no Ingress routes a `metrics` port.
3. policy: the rules of issue 8 and docs/operations.md - non-root uid 10001,
   read-only root filesystem, no privilege escalation, all capabilities
   dropped, RuntimeDefault seccomp, requests and limits, /healthz and /readyz
   probes, secrets only by secretKeyRef, a default-deny NetworkPolicy, no
   Ingress path that reaches /healthz or /readyz (issue 17: they stay inside
   the cluster), a `metrics` or `admin` port on every Argus Deployment (its
   /metrics), and (with --production, for prod) no Secret objects and
   pinned images.
4. monitoring (validate_monitoring.py): the ServiceMonitor, the alerts and
   the Grafana dashboard against docs/operations.md's metrics.

Prints one line per problem and exits 1 if there is any.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

import validate_monitoring

try:
    import kubernetes_validate.utils as kv
except ImportError:  # pragma: no cover - check.sh installs it
    sys.exit("validate.py: the kubernetes-validate package is missing (run deploy/k8s/check.sh)")

ARGUS_UID = 10001
EXTERNAL_SECRETS = {"argus-secrets"}
SECRET_ENV = re.compile(r"(DATABASE_URL|AMQP_URL|PEPPER|PASSWORD|PASS|SECRET|TOKEN|KEY)$")
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}
HTTP_SERVICES = {"auth-service", "api-service", "api-service-sandbox"}
REPO = Path(__file__).resolve().parents[2]
# Container ports that serve /metrics; never routed by an Ingress.
METRICS_PORTS = {"metrics", "admin"}


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)

    def add(self, overlay: str, obj: dict | None, message: str) -> None:
        where = overlay
        if obj is not None:
            where += f" {obj.get('kind', '?')}/{obj.get('metadata', {}).get('name', '?')}"
        self.problems.append(f"{where}: {message}")


def load(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d]


def pod_spec(obj: dict) -> dict | None:
    kind = obj.get("kind")
    spec = obj.get("spec") or {}
    if kind == "CronJob":
        return (((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}).get("spec")
    if kind in WORKLOAD_KINDS:
        return (spec.get("template") or {}).get("spec")
    return None


def pod_labels(obj: dict) -> dict:
    spec = obj.get("spec") or {}
    if obj.get("kind") == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    return ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}


def selects(selector: dict | None, labels: dict) -> bool:
    """Label-selector semantics (matchLabels + matchExpressions)."""
    if selector is None:
        return False
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def base_name(name: str, names: set[str]) -> bool:
    """True if `name` is in `names`, also after a kustomize hash suffix."""
    return name in names or re.sub(r"-[a-z0-9]{10}$", "", name) in names


def check_schema(overlay: str, objs: list[dict], versions: list[str], report: Report) -> int:
    checked = 0
    for obj in objs:
        if not isinstance(obj, dict) or "kind" not in obj or "apiVersion" not in obj:
            report.add(overlay, None, f"not a Kubernetes object: {str(obj)[:80]}")
            continue
        if validate_monitoring.has_schema(obj):
            for problem in validate_monitoring.schema_problems(obj):
                report.add(overlay, obj, problem)
            checked += 1
            continue
        for version in versions:
            try:
                kv.validate(obj, version, strict=True)
            except kv.ValidationError as e:
                path = ".".join(str(p) for p in e.path) or "(root)"
                report.add(overlay, obj, f"schema (k8s {e.version}): {path}: {e.message}")
            except kv.SchemaNotFoundError as e:
                report.add(overlay, obj, f"schema: {e.message}")
            except kv.VersionNotSupportedError:
                report.add(overlay, None, f"kubernetes-validate has no schemas for k8s {version}")
                return checked
            checked += 1
    return checked


def check_references(overlay: str, objs: list[dict], report: Report, external_ok: bool) -> None:
    seen: set[tuple] = set()
    by_kind: dict[str, dict[str, dict]] = {}
    for obj in objs:
        meta = obj.get("metadata") or {}
        key = (obj.get("apiVersion"), obj.get("kind"), meta.get("namespace"), meta.get("name"))
        if key in seen:
            report.add(overlay, obj, "defined more than once")
        seen.add(key)
        by_kind.setdefault(obj.get("kind"), {})[meta.get("name")] = obj

    workloads = [o for o in objs if o.get("kind") in WORKLOAD_KINDS]
    configmaps = set(by_kind.get("ConfigMap", {}))
    secrets = set(by_kind.get("Secret", {}))
    secret_ok = secrets | (EXTERNAL_SECRETS if external_ok else set())

    for svc in by_kind.get("Service", {}).values():
        sel = (svc.get("spec") or {}).get("selector")
        if sel and not any(selects({"matchLabels": sel}, pod_labels(w)) for w in workloads):
            report.add(overlay, svc, f"selector {sel} matches no pod template")
        for port in (svc.get("spec") or {}).get("ports") or []:
            target = port.get("targetPort")
            if isinstance(target, str):
                named = [
                    c for w in workloads if selects({"matchLabels": sel or {}}, pod_labels(w))
                    for c in (pod_spec(w) or {}).get("containers") or []
                    if any(p.get("name") == target for p in c.get("ports") or [])
                ]
                if not named:
                    report.add(overlay, svc, f"targetPort {target!r} is no container port name")

    def int_or_percent(obj: dict, what: str, value) -> None:
        if value is not None and not isinstance(value, int) and not re.fullmatch(r"\d+%", str(value)):
            report.add(overlay, obj, f"{what} {value!r} is neither an integer nor a percentage")

    for w in by_kind.get("Deployment", {}).values():
        rolling = ((w.get("spec") or {}).get("strategy") or {}).get("rollingUpdate") or {}
        int_or_percent(w, "rollingUpdate.maxSurge", rolling.get("maxSurge"))
        int_or_percent(w, "rollingUpdate.maxUnavailable", rolling.get("maxUnavailable"))

    for pdb in by_kind.get("PodDisruptionBudget", {}).values():
        int_or_percent(pdb, "maxUnavailable", (pdb.get("spec") or {}).get("maxUnavailable"))
        int_or_percent(pdb, "minAvailable", (pdb.get("spec") or {}).get("minAvailable"))
        if not any(selects((pdb.get("spec") or {}).get("selector"), pod_labels(w)) for w in workloads):
            report.add(overlay, pdb, "selector matches no pod template")

    for hpa in by_kind.get("HorizontalPodAutoscaler", {}).values():
        ref = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
        target = by_kind.get(ref.get("kind"), {}).get(ref.get("name"))
        if target is None:
            report.add(overlay, hpa, f"scaleTargetRef {ref.get('kind')}/{ref.get('name')} does not exist")
        elif target.get("spec", {}).get("replicas") is not None:
            report.add(overlay, hpa, "its Deployment also sets spec.replicas (every apply would reset the HPA)")
        spec = hpa.get("spec") or {}
        if spec.get("minReplicas", 1) > spec.get("maxReplicas", 0):
            report.add(overlay, hpa, "minReplicas > maxReplicas")

    services = by_kind.get("Service", {})
    for ing in by_kind.get("Ingress", {}).values():
        for rule in (ing.get("spec") or {}).get("rules") or []:
            for path in ((rule.get("http") or {}).get("paths")) or []:
                backend = (path.get("backend") or {}).get("service") or {}
                svc = services.get(backend.get("name"))
                if svc is None:
                    report.add(overlay, ing, f"backend service {backend.get('name')!r} does not exist")
                    continue
                port = backend.get("port") or {}
                ports = (svc.get("spec") or {}).get("ports") or []
                if "name" in port and not any(p.get("name") == port["name"] for p in ports):
                    report.add(overlay, ing, f"service {svc['metadata']['name']} has no port named {port['name']!r}")
                if "number" in port and not any(p.get("port") == port["number"] for p in ports):
                    report.add(overlay, ing, f"service {svc['metadata']['name']} has no port {port['number']}")
                for p in ports:
                    if p.get("port") == port.get("number") or p.get("name") == port.get("name"):
                        if p.get("name") in METRICS_PORTS or p.get("targetPort") in METRICS_PORTS:
                            report.add(overlay, ing, f"routes {svc['metadata']['name']}'s metrics port {p.get('name')!r}")
        tls_hosts = {h for t in (ing.get("spec") or {}).get("tls") or [] for h in t.get("hosts") or []}
        for rule in (ing.get("spec") or {}).get("rules") or []:
            if rule.get("host") not in tls_hosts:
                report.add(overlay, ing, f"host {rule.get('host')} has no TLS entry")

    for w in workloads:
        spec = pod_spec(w) or {}
        for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
            for src in c.get("envFrom") or []:
                if "configMapRef" in src and not base_name(src["configMapRef"]["name"], configmaps):
                    report.add(overlay, w, f"envFrom ConfigMap {src['configMapRef']['name']!r} does not exist")
                if "secretRef" in src and not base_name(src["secretRef"]["name"], secret_ok):
                    report.add(overlay, w, f"envFrom Secret {src['secretRef']['name']!r} does not exist")
            for env in c.get("env") or []:
                ref = (env.get("valueFrom") or {}).get("secretKeyRef")
                if ref:
                    name = ref.get("name", "")
                    secret = by_kind.get("Secret", {}).get(name)
                    if not base_name(name, secret_ok):
                        report.add(overlay, w, f"env {env['name']}: Secret {name!r} does not exist")
                    elif secret is not None:
                        keys = set((secret.get("data") or {})) | set((secret.get("stringData") or {}))
                        if ref.get("key") not in keys:
                            report.add(overlay, w, f"env {env['name']}: Secret {name} has no key {ref.get('key')!r}")
        for vol in spec.get("volumes") or []:
            if "configMap" in vol and not base_name(vol["configMap"]["name"], configmaps):
                report.add(overlay, w, f"volume {vol['name']}: ConfigMap {vol['configMap']['name']!r} does not exist")

    policies = list(by_kind.get("NetworkPolicy", {}).values())
    if not any(
        (p.get("spec") or {}).get("podSelector") == {}
        and set((p.get("spec") or {}).get("policyTypes") or []) == {"Ingress", "Egress"}
        and not (p.get("spec") or {}).get("ingress")
        and not (p.get("spec") or {}).get("egress")
        for p in policies
    ):
        report.add(overlay, None, "no default-deny NetworkPolicy (podSelector {}, Ingress+Egress, no rules)")
    for w in workloads:
        labels = pod_labels(w)
        name = labels.get("app.kubernetes.io/name")
        if name in HTTP_SERVICES:
            ingress_allowed = any(
                selects((p.get("spec") or {}).get("podSelector"), labels) and (p.get("spec") or {}).get("ingress")
                for p in policies
            )
            if not ingress_allowed:
                report.add(overlay, w, "no NetworkPolicy lets the ingress controller reach it")
        internet = [
            p for p in policies
            if selects((p.get("spec") or {}).get("podSelector"), labels)
            and any(
                (b.get("ipBlock") or {}).get("cidr") in ("0.0.0.0/0", "::/0")
                for rule in (p.get("spec") or {}).get("egress") or []
                for b in rule.get("to") or []
            )
        ]
        # Not the sandbox's worker: its deliveries go to mock connectors.
        if internet and name != "delivery-worker":
            report.add(overlay, w, "only the live delivery worker may reach the internet")


HEALTH_PATHS = ("/healthz", "/readyz")


def exposed_health_paths(path: dict) -> list[str]:
    """The health paths an Ingress path would route (a Prefix matches whole
    path elements; ImplementationSpecific is treated as a prefix)."""
    p = path.get("path") or "/"
    if path.get("pathType") == "Exact":
        return [h for h in HEALTH_PATHS if h == p]
    prefix = p.rstrip("/")
    return [h for h in HEALTH_PATHS if prefix == "" or h == prefix or h.startswith(prefix + "/")]


def check_policy(overlay: str, objs: list[dict], report: Report, prod: bool) -> None:
    for obj in objs:
        kind = obj.get("kind")
        if kind == "Ingress":
            for rule in (obj.get("spec") or {}).get("rules") or []:
                for path in ((rule.get("http") or {}).get("paths")) or []:
                    for health in exposed_health_paths(path):
                        report.add(overlay, obj, f"host {rule.get('host')}: path {path.get('path')!r} exposes {health}")
        if kind == "Secret" and prod:
            report.add(overlay, obj, "a Secret in this overlay: secret values never live in the repository")
        if kind == "ConfigMap":
            for key in (obj.get("data") or {}):
                if SECRET_ENV.search(key) and not key.endswith(".sql"):
                    report.add(overlay, obj, f"key {key} looks secret: use the Secret argus-secrets")
        spec = pod_spec(obj)
        if spec is None:
            continue
        labels = pod_labels(obj)
        ours = labels.get("app.kubernetes.io/part-of") == "argus"
        psc = spec.get("securityContext") or {}
        if psc.get("runAsNonRoot") is not True:
            report.add(overlay, obj, "pod securityContext.runAsNonRoot must be true")
        if (psc.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
            report.add(overlay, obj, "pod securityContext.seccompProfile.type must be RuntimeDefault")
        if ours and psc.get("runAsUser") != ARGUS_UID:
            report.add(overlay, obj, f"pod securityContext.runAsUser must be {ARGUS_UID}")
        if ours and spec.get("automountServiceAccountToken") is not False:
            report.add(overlay, obj, "automountServiceAccountToken must be false")
        if kind == "Deployment" and ours:
            grace = spec.get("terminationGracePeriodSeconds", 30)
            if not 30 <= grace <= 120:
                report.add(overlay, obj, f"terminationGracePeriodSeconds {grace} outside 30..120")
        for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
            cname = f"container {c.get('name')}"
            sc = c.get("securityContext") or {}
            if sc.get("allowPrivilegeEscalation") is not False:
                report.add(overlay, obj, f"{cname}: allowPrivilegeEscalation must be false")
            if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
                report.add(overlay, obj, f"{cname}: capabilities.drop must contain ALL")
            if (sc.get("capabilities") or {}).get("add"):
                report.add(overlay, obj, f"{cname}: adds capabilities")
            if sc.get("privileged"):
                report.add(overlay, obj, f"{cname}: privileged")
            if ours and sc.get("readOnlyRootFilesystem") is not True:
                report.add(overlay, obj, f"{cname}: readOnlyRootFilesystem must be true")
            res = c.get("resources") or {}
            for part in ("requests", "limits"):
                for r in ("cpu", "memory"):
                    if r not in (res.get(part) or {}):
                        report.add(overlay, obj, f"{cname}: resources.{part}.{r} missing")
            image = c.get("image", "")
            if image in ("", "argus") or image.startswith("argus:latest"):
                report.add(overlay, obj, f"{cname}: image {image!r} is the base placeholder; set it in the overlay")
            if prod and ("@sha256:" not in image and (":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest"))):
                report.add(overlay, obj, f"{cname}: image {image!r} is not pinned to a version tag or digest")
            if kind == "Deployment" and ours:
                if not any(p.get("name") in METRICS_PORTS for p in c.get("ports") or []):
                    report.add(overlay, obj, f"{cname}: no container port named metrics or admin (its /metrics)")
            if kind == "Deployment":
                for probe in ("livenessProbe", "readinessProbe"):
                    if probe not in c:
                        report.add(overlay, obj, f"{cname}: {probe} missing")
                if ours:
                    live = ((c.get("livenessProbe") or {}).get("httpGet") or {}).get("path")
                    ready = ((c.get("readinessProbe") or {}).get("httpGet") or {}).get("path")
                    if live != "/healthz":
                        report.add(overlay, obj, f"{cname}: livenessProbe must GET /healthz (is {live})")
                    if ready != "/readyz":
                        report.add(overlay, obj, f"{cname}: readinessProbe must GET /readyz (is {ready})")
            for env in c.get("env") or []:
                if ours and SECRET_ENV.search(env.get("name", "")) and "value" in env:
                    report.add(overlay, obj, f"{cname}: env {env['name']} has a literal value; use secretKeyRef")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--k8s-version", action="append", dest="versions",
                        help="Kubernetes version to validate against (repeatable)")
    parser.add_argument("--production", action="append", default=[], metavar="OVERLAY",
                        help="a production overlay: no Secret objects, pinned images")
    parser.add_argument("rendered", nargs="+", metavar="NAME=FILE")
    args = parser.parse_args()
    versions = args.versions or ["1.30", kv.major_minor(kv.latest_version())]

    report = Report()
    for item in args.rendered:
        overlay, _, path = item.partition("=")
        try:
            objs = load(path)
        except (OSError, yaml.YAMLError) as e:
            report.add(overlay, None, f"cannot read {path}: {e}")
            continue
        prod = overlay in args.production
        before = len(report.problems)
        n = check_schema(overlay, objs, versions, report)
        check_references(overlay, objs, report, external_ok=prod)
        check_policy(overlay, objs, report, prod=prod)
        validate_monitoring.check(overlay, objs, report, REPO, sys.modules[__name__])
        found = len(report.problems) - before
        kinds = len(objs)
        print(f"    {overlay}: {kinds} objects, {n} schema checks (k8s {', '.join(versions)}), "
              f"{'OK' if found == 0 else f'{found} problem(s)'}")

    for problem in report.problems:
        print(f"ERROR {problem}")
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
