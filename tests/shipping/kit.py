"""Shipping test kit: render the chart with the real Helm engine, read the exported metrics."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import helm_python
import yaml
from prometheus_client import CollectorRegistry
from prometheus_client.metrics import MetricWrapperBase

from gateway.metrics import Metrics
from gateway.shadow.metrics import ShadowMetrics

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "llm-gateway"
RELEASE, NAMESPACE = "gw", "llm"
FULLNAME = f"{RELEASE}-llm-gateway"
# Kubernetes version of the schemas (offline, shipped in kubernetes-validate) and of helm lint.
KUBE_VERSION = "1.31.0"
# Kinds whose schemas kubernetes-validate does not ship (Prometheus Operator CRDs).
CRD_KINDS = frozenset({"ServiceMonitor", "PrometheusRule"})
# Labels Prometheus adds to every scraped series (target labels), and the histogram bucket label.
TARGET_LABELS = frozenset({"job", "namespace", "pod", "instance", "service", "container"})

Manifest = dict[str, Any]

TENANT_POLICY = (REPO / "policies" / "examples" / "tenants.yaml").read_text()
REDIS_URL = "rediss://:s3cret@cache.example.internal:6379/0"
# ElastiCache with cluster mode and in-transit encryption: the configuration endpoint, its AUTH
# token in the operator's Secret, a private CA in a ConfigMap (as MemoryDB users often have).
ELASTICACHE = {
    "host": "clustercfg.gw-cache.abc123.use1.cache.amazonaws.com",
    "cluster": True,
    "tls": True,
    "auth": {"existingSecret": "gw-redis-auth", "existingSecretPasswordKey": "auth-token"},
    "tlsCA": {"existingConfigMap": "corp-ca", "key": "ca.pem"},
}
OTLP = {
    "otlpEndpoint": "https://otlp.vendor.example",
    "serviceName": "gw-prod",
    "existingSecret": "otlp-auth",
    "resourceAttributes": {"deployment.environment.name": "prod"},
}

# Values for each optional part switched on (and all of them together).
SCENARIOS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "serviceMonitor": {"serviceMonitor": {"enabled": True, "labels": {"release": "prom"}}},
    "prometheusRule": {
        "prometheusRule": {"enabled": True},
        "policies": {"files": {"tenants.yaml": TENANT_POLICY}},
    },
    "networkPolicy": {
        "networkPolicy": {
            "enabled": True,
            "ingressFrom": [
                {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "apps"}}}
            ],
        },
        "redis": {"url": REDIS_URL},
    },
    "inChartRedis": {"redis": {"internal": {"enabled": True}}, "networkPolicy": {"enabled": True}},
    "externalRedis": {"redis": {"url": REDIS_URL}},
    "existingSecret": {"auth": {"existingSecret": "my-gateway-keys"}},
    "hpaOff": {"autoscaling": {"enabled": False}, "replicaCount": 3},
    "elastiCache": {
        "redis": ELASTICACHE,
        "tracing": OTLP,
        "networkPolicy": {"enabled": True},
        "config": {"workers": 2},
    },
    "everything": {
        "auth": {"apiKeys": ["sk-client-one-0001", "sk-client-two-0002"], "adminKey": "sk-admin-x"},
        "serviceAccount": {"roleArn": "arn:aws:iam::123456789012:role/llm-gateway"},
        "serviceMonitor": {"enabled": True},
        "prometheusRule": {"enabled": True, "tenantBudgetsUsdPerDay": {"team-a": 25}},
        "networkPolicy": {"enabled": True},
        "redis": {"internal": {"enabled": True}},
        "config": {"workers": 4, "logFormat": "text", "corsOrigins": "https://app.example"},
        "aws": {"region": "eu-west-1", "bedrockEndpointUrl": "https://bedrock.vpce.example"},
        "extraEnv": [{"name": "AWS_STS_REGIONAL_ENDPOINTS", "value": "regional"}],
        "podDisruptionBudget": {"enabled": False},
        "dashboards": {"enabled": False},
    },
}


def render(chart: helm_python.Chart, values: dict[str, Any] | None = None) -> list[Manifest]:
    """Every manifest the chart renders for ``values`` (NOTES.txt left out)."""
    out = chart.render(values=values or {}, name=RELEASE, namespace=NAMESPACE, is_install=True)
    docs: list[Manifest] = []
    for path, text in sorted(out.items()):
        if path.endswith("NOTES.txt"):
            continue
        docs.extend(d for d in yaml.safe_load_all(text) if d)
    return docs


def notes(chart: helm_python.Chart, values: dict[str, Any] | None = None) -> str:
    out = chart.render(values=values or {}, name=RELEASE, namespace=NAMESPACE, is_install=True)
    return next(text for path, text in out.items() if path.endswith("NOTES.txt"))


def find(docs: list[Manifest], kind: str, name: str | None = None) -> Manifest:
    matches = [d for d in docs if d["kind"] == kind and name in (None, d["metadata"]["name"])]
    assert len(matches) == 1, (
        f"{len(matches)} {kind} named {name}: {[d['metadata'] for d in matches]}"
    )
    return matches[0]


def kinds(docs: list[Manifest]) -> list[str]:
    return sorted(d["kind"] for d in docs)


def gateway_container(docs: list[Manifest]) -> dict[str, Any]:
    pod = find(docs, "Deployment", FULLNAME)["spec"]["template"]["spec"]
    container: dict[str, Any] = next(c for c in pod["containers"] if c["name"] == "gateway")
    return container


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container.get("env", [])}


@dataclass(frozen=True)
class Family:
    """One exported metric family: its sample names as Prometheus exposes them, its labels."""

    name: str
    type: str
    samples: frozenset[str]
    labels: frozenset[str]


def exported_families() -> dict[str, Family]:
    """The gateway's families, read from ``registry.collect()`` of a fresh ``Metrics``."""
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    shadow = ShadowMetrics(registry)
    families_of = (
        getattr(value, "family", value)
        for value in (*vars(metrics).values(), *vars(shadow).values())
    )
    labels = {
        collector._name: frozenset(collector._labelnames)
        for collector in families_of
        if isinstance(collector, MetricWrapperBase)
    }
    suffixes = {
        "counter": ("_total", "_created"),
        "histogram": ("_bucket", "_sum", "_count", "_created"),
        "summary": ("", "_sum", "_count", "_created"),
        "gauge": ("",),
    }
    families: dict[str, Family] = {}
    for family in registry.collect():
        samples = frozenset(family.name + s for s in suffixes[family.type])
        extra = {"le"} if family.type == "histogram" else set()
        families[family.name] = Family(
            family.name, family.type, samples, labels.get(family.name, frozenset()) | extra
        )
    return families


METRIC_RE = re.compile(r"\b(gateway_[a-z0-9_]+)\b(?:\{([^}]*)\})?")
MATCHER_RE = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")
GROUPING_RE = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")


def query_problems(expr: str, families: dict[str, Family]) -> Iterator[str]:
    """Names in a PromQL expression that the gateway does not export, and unknown labels."""
    sample_family = {s: f for f in families.values() for s in f.samples}
    all_labels = set(TARGET_LABELS).union(*(f.labels for f in families.values()))
    used = METRIC_RE.findall(expr)
    if not used:
        yield f"no gateway metric in {expr!r}"
    for name, matchers in used:
        family = sample_family.get(name)
        if family is None:
            yield f"{name} is not exported (in {expr!r})"
            continue
        for label in MATCHER_RE.findall(matchers):
            if label not in family.labels | TARGET_LABELS:
                yield f"{name} has no label {label!r} (in {expr!r})"
    for group in GROUPING_RE.findall(expr):
        for label in (g.strip() for g in group.split(",")):
            if label and label not in all_labels:
                yield f"no family has the label {label!r} (in {expr!r})"
