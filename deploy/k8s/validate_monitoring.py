"""Offline checks of the monitoring objects (components/monitoring), for
deploy/k8s/validate.py.

kubernetes-validate ships no schemas for the Prometheus Operator's CRDs, so
ServiceMonitor and PrometheusRule are checked against the strict schemas
below: the fields of monitoring.coreos.com/v1 this project uses or is likely
to (unknown fields are errors, as kubernetes-validate's strict mode makes
them; a field of the operator's API missing here is added when it is first
used). Then, with promql-parser (PyPI; the Rust parser GreptimeDB uses):

- every alert expression and dashboard query parses as PromQL, and every
  metric it selects is one docs/operations.md's metrics table lists (the
  table a Rust test holds to the code's catalog), with only that metric's
  labels or the labels Prometheus adds to a target in its matchers;
- the ServiceMonitor selects Services whose named port exists, is no
  Ingress backend, reaches a container port of their pods, and is open to
  Prometheus in some NetworkPolicy;
- alerts carry a severity, a summary, a description and a runbook that is
  a heading of docs/operations.md;
- the Grafana dashboard ConfigMaps hold JSON with a uid, a title and
  unique panel ids.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema

try:
    import promql_parser
except ImportError:  # pragma: no cover - check.sh installs it
    promql_parser = None

# --- schemas -------------------------------------------------------------------

STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
STRINGS = {"type": "array", "items": {"type": "string"}}
# Prometheus durations, as the operator's CRDs pattern them.
DURATION = {
    "type": "string",
    "pattern": r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$",
}
METADATA = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string"},
        "namespace": {"type": "string"},
        "labels": STRING_MAP,
        "annotations": STRING_MAP,
    },
}
LABEL_SELECTOR = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "matchLabels": STRING_MAP,
        "matchExpressions": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["key", "operator"],
                "additionalProperties": False,
                "properties": {
                    "key": {"type": "string"},
                    "operator": {"enum": ["In", "NotIn", "Exists", "DoesNotExist"]},
                    "values": STRINGS,
                },
            },
        },
    },
}
RELABELING = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "sourceLabels": STRINGS,
        "separator": {"type": "string"},
        "targetLabel": {"type": "string"},
        "regex": {"type": "string"},
        "modulus": {"type": "integer", "minimum": 0},
        "replacement": {"type": "string"},
        "action": {
            "enum": [
                "replace", "Replace", "keep", "Keep", "drop", "Drop", "hashmod", "HashMod",
                "labelmap", "LabelMap", "labeldrop", "LabelDrop", "labelkeep", "LabelKeep",
                "lowercase", "Lowercase", "uppercase", "Uppercase", "keepequal", "KeepEqual",
                "dropequal", "DropEqual",
            ]
        },
    },
}
ENDPOINT = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "port": {"type": "string"},
        "targetPort": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
        "path": {"type": "string"},
        "scheme": {"enum": ["http", "https", "HTTP", "HTTPS"]},
        "params": {"type": "object", "additionalProperties": STRINGS},
        "interval": DURATION,
        "scrapeTimeout": DURATION,
        "honorLabels": {"type": "boolean"},
        "honorTimestamps": {"type": "boolean"},
        "followRedirects": {"type": "boolean"},
        "enableHttp2": {"type": "boolean"},
        "filterRunning": {"type": "boolean"},
        "relabelings": {"type": "array", "items": RELABELING},
        "metricRelabelings": {"type": "array", "items": RELABELING},
    },
}


def _object(kind: str, spec: dict) -> dict:
    return {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "additionalProperties": False,
        "properties": {
            "apiVersion": {"const": "monitoring.coreos.com/v1"},
            "kind": {"const": kind},
            "metadata": METADATA,
            "spec": spec,
        },
    }


SERVICE_MONITOR = _object("ServiceMonitor", {
    "type": "object",
    "required": ["selector", "endpoints"],
    "additionalProperties": False,
    "properties": {
        "jobLabel": {"type": "string"},
        "targetLabels": STRINGS,
        "podTargetLabels": STRINGS,
        "endpoints": {"type": "array", "minItems": 1, "items": ENDPOINT},
        "selector": LABEL_SELECTOR,
        "namespaceSelector": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"any": {"type": "boolean"}, "matchNames": STRINGS},
        },
        "sampleLimit": {"type": "integer", "minimum": 0},
        "targetLimit": {"type": "integer", "minimum": 0},
    },
})
RULE = {
    "type": "object",
    "required": ["expr"],
    "additionalProperties": False,
    "oneOf": [{"required": ["alert"]}, {"required": ["record"]}],
    "properties": {
        "alert": {"type": "string", "minLength": 1},
        "record": {"type": "string", "minLength": 1},
        "expr": {"anyOf": [{"type": "string", "minLength": 1}, {"type": "integer"}]},
        "for": DURATION,
        "keep_firing_for": DURATION,
        "labels": STRING_MAP,
        "annotations": STRING_MAP,
    },
}
PROMETHEUS_RULE = _object("PrometheusRule", {
    "type": "object",
    "required": ["groups"],
    "additionalProperties": False,
    "properties": {
        "groups": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["name", "rules"],
                "additionalProperties": False,
                "properties": {
                    "name": {"type": "string", "minLength": 1},
                    "interval": DURATION,
                    "query_offset": DURATION,
                    "limit": {"type": "integer", "minimum": 0},
                    "labels": STRING_MAP,
                    "rules": {"type": "array", "minItems": 1, "items": RULE},
                },
            },
        }
    },
})
SCHEMAS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): SERVICE_MONITOR,
    ("monitoring.coreos.com/v1", "PrometheusRule"): PROMETHEUS_RULE,
}

# Labels Prometheus (with the operator's ServiceMonitor) puts on every
# series of a target, and the metric names it makes itself.
TARGET_LABELS = {"job", "namespace", "pod", "service", "instance", "container", "endpoint"}
PROMETHEUS_METRICS = {"up": set(), "scrape_duration_seconds": set()}
SEVERITIES = {"critical", "warning", "info"}
# Dashboard variables and the values they are checked with.
DASHBOARD_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$namespace": "argus"}


def has_schema(obj: dict) -> bool:
    return (obj.get("apiVersion"), obj.get("kind")) in SCHEMAS


def schema_problems(obj: dict) -> list[str]:
    """The object against its strict schema: one line per problem."""
    validator = jsonschema.Draft7Validator(SCHEMAS[(obj.get("apiVersion"), obj.get("kind"))])
    return [
        f"schema (monitoring.coreos.com/v1): {'.'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}"
        for e in sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path))
    ]


# --- the metrics table ---------------------------------------------------------------

def load_catalog(operations_md: Path) -> dict[str, set[str]]:
    """Series name -> labels, from docs/operations.md's metrics table
    (`| `name` | type | `label`, … | meaning |`); a histogram gives its
    `_bucket` (with `le`), `_sum` and `_count` series."""
    series: dict[str, set[str]] = {}
    for line in operations_md.read_text(encoding="utf-8").splitlines():
        if not line.startswith("| `argus_"):
            continue
        cells = [c.strip() for c in line.split("|")]
        name, kind = cells[1].strip("`"), cells[2]
        labels = {l.strip().strip("`") for l in cells[3].split(",")} - {"none", ""}
        if kind == "histogram":
            series[f"{name}_bucket"] = labels | {"le"}
            series[f"{name}_sum"] = labels
            series[f"{name}_count"] = labels
        else:
            series[name] = labels
    return series


def headings(markdown: Path) -> set[str]:
    """The GitHub anchors of a Markdown file's headings."""
    anchors = set()
    for line in markdown.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^a-z0-9 _-]", "", title).replace(" ", "-"))
    return anchors


def expr_problems(expr: str, catalog: dict[str, set[str]]) -> list[str]:
    """PromQL that parses and selects only known metrics by known labels."""
    if promql_parser is None:
        return ["promql-parser is missing (run deploy/k8s/check.sh)"]
    try:
        ast = promql_parser.parse(expr)
    except ValueError as e:
        return [f"PromQL does not parse ({e}): {expr.strip()}"]
    problems: list[str] = []

    def visit(node) -> bool:
        if isinstance(node, promql_parser.VectorSelector):
            known = {**PROMETHEUS_METRICS, **catalog}
            if node.name not in known:
                problems.append(f"{node.name or 'a selector without a name'} is not a metric docs/operations.md lists")
                return True
            for matcher in node.matchers.matchers:
                if matcher.name not in known[node.name] | TARGET_LABELS:
                    problems.append(f"{node.name} has no label {matcher.name!r}")
        return True

    promql_parser.walk(ast, visit)
    return problems


# --- the checks -----------------------------------------------------------------

def check(overlay: str, objs: list[dict], report, repo: Path, objects) -> None:
    """Every check above, for one rendered overlay. `objects` gives
    validate.py's `selects`, `pod_spec` and `pod_labels`."""
    catalog = load_catalog(repo / "docs" / "operations.md")
    anchors = headings(repo / "docs" / "operations.md")
    for obj in objs:
        if obj.get("kind") == "PrometheusRule":
            check_rules(overlay, obj, catalog, anchors, report)
        elif obj.get("kind") == "ServiceMonitor":
            check_service_monitor(overlay, obj, objs, report, objects)
        elif obj.get("kind") == "ConfigMap" and "grafana_dashboard" in ((obj.get("metadata") or {}).get("labels") or {}):
            check_dashboards(overlay, obj, catalog, report)


def check_rules(overlay: str, rule: dict, catalog, anchors: set[str], report) -> None:
    alerts: set[str] = set()
    for group in (rule.get("spec") or {}).get("groups") or []:
        for r in group.get("rules") or []:
            name = r.get("alert") or r.get("record") or "?"
            for problem in expr_problems(str(r.get("expr", "")), catalog):
                report.add(overlay, rule, f"{name}: {problem}")
            if "alert" not in r:
                continue
            if name in alerts:
                report.add(overlay, rule, f"alert {name} defined twice")
            alerts.add(name)
            if (r.get("labels") or {}).get("severity") not in SEVERITIES:
                report.add(overlay, rule, f"{name}: labels.severity must be one of {sorted(SEVERITIES)}")
            notes = r.get("annotations") or {}
            for key in ("summary", "description", "runbook"):
                if not notes.get(key):
                    report.add(overlay, rule, f"{name}: annotation {key} missing")
            runbook = notes.get("runbook", "")
            if runbook and (not runbook.startswith("docs/operations.md#") or runbook.partition("#")[2] not in anchors):
                report.add(overlay, rule, f"{name}: runbook {runbook!r} is no heading of docs/operations.md")


def check_service_monitor(overlay: str, monitor: dict, objs: list[dict], report, objects) -> None:
    selects, pod_spec, pod_labels = objects.selects, objects.pod_spec, objects.pod_labels
    spec = monitor.get("spec") or {}
    services = [
        o for o in objs
        if o.get("kind") == "Service" and selects(spec.get("selector") or {}, (o.get("metadata") or {}).get("labels") or {})
    ]
    if not services:
        report.add(overlay, monitor, "selector matches no Service")
    # (Service, port name or number) of every Ingress backend.
    routed = {
        (backend.get("name"), value)
        for ing in objs if ing.get("kind") == "Ingress"
        for rule in (ing.get("spec") or {}).get("rules") or []
        for p in ((rule.get("http") or {}).get("paths")) or []
        for backend in [(p.get("backend") or {}).get("service") or {}]
        for value in (backend.get("port") or {}).values()
    }
    workloads = [o for o in objs if pod_spec(o) is not None]
    policies = [o for o in objs if o.get("kind") == "NetworkPolicy"]
    for endpoint in spec.get("endpoints") or []:
        for svc in services:
            svc_name = svc["metadata"]["name"]
            port = next((p for p in (svc.get("spec") or {}).get("ports") or [] if p.get("name") == endpoint.get("port")), None)
            if port is None:
                report.add(overlay, monitor, f"Service {svc_name} has no port named {endpoint.get('port')!r}")
                continue
            if (svc_name, port["name"]) in routed or (svc_name, port.get("port")) in routed:
                report.add(overlay, monitor, f"Service {svc_name} port {port['name']} is an Ingress backend: metrics must stay inside")
            selector = {"matchLabels": (svc.get("spec") or {}).get("selector") or {}}
            for w in (w for w in workloads if selects(selector, pod_labels(w))):
                container_ports = [p for c in (pod_spec(w) or {}).get("containers") or [] for p in c.get("ports") or []]
                target = next((p for p in container_ports if port.get("targetPort") in (p.get("name"), p.get("containerPort"))), None)
                if target is None:
                    report.add(overlay, monitor, f"Service {svc_name} port {port['name']} reaches no container port of {w['metadata']['name']}")
                    continue
                allowed = any(
                    selects((np.get("spec") or {}).get("podSelector") or {}, pod_labels(w))
                    and any(
                        p.get("port") in (target.get("name"), target.get("containerPort"))
                        for rule in (np.get("spec") or {}).get("ingress") or []
                        for p in rule.get("ports") or []
                    )
                    for np in policies
                )
                if not allowed:
                    report.add(overlay, monitor, f"no NetworkPolicy lets Prometheus reach {w['metadata']['name']} on {target.get('name')}")


def _panels(panels: list[dict]):
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels") or [])


def check_dashboards(overlay: str, configmap: dict, catalog, report) -> None:
    for key, text in ((configmap.get("data") or {}).items()):
        try:
            dashboard = json.loads(text)
        except json.JSONDecodeError as e:
            report.add(overlay, configmap, f"{key} is not JSON: {e}")
            continue
        for field in ("uid", "title", "panels"):
            if not dashboard.get(field):
                report.add(overlay, configmap, f"{key}: no {field}")
        ids = [p.get("id") for p in _panels(dashboard.get("panels") or [])]
        if len(ids) != len(set(ids)) or None in ids:
            report.add(overlay, configmap, f"{key}: panel ids must be present and unique")
        queries = [
            (panel.get("title", "?"), target.get("expr", ""))
            for panel in _panels(dashboard.get("panels") or [])
            for target in panel.get("targets") or []
        ]
        if not queries:
            report.add(overlay, configmap, f"{key}: no queries")
        for title, expr in queries:
            for variable, value in DASHBOARD_VARIABLES.items():
                expr = expr.replace(variable, value)
            if "$" in expr:
                report.add(overlay, configmap, f"{key}: panel {title!r}: unknown variable in {expr}")
                continue
            for problem in expr_problems(expr, catalog):
                report.add(overlay, configmap, f"{key}: panel {title!r}: {problem}")
        for variable in (dashboard.get("templating") or {}).get("list") or []:
            definition = variable.get("definition") or ""
            for metric in re.findall(r"label_values\((\w+)", definition):
                if metric not in catalog:
                    report.add(overlay, configmap, f"{key}: variable {variable.get('name')}: {metric} is no metric")
