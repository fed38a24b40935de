"""Chart: rendered by the real Helm engine, every manifest validated against Kubernetes' schemas."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import helm_python
import kubernetes_validate
import pytest

from gateway.__main__ import main as gateway_main
from gateway.config import Settings
from tests.shipping.kit import (
    CHART,
    CRD_KINDS,
    ELASTICACHE,
    FULLNAME,
    KUBE_VERSION,
    NAMESPACE,
    OTLP,
    REDIS_URL,
    REPO,
    SCENARIOS,
    TENANT_POLICY,
    Manifest,
    env_of,
    find,
    gateway_container,
    kinds,
    notes,
    render,
)

BASE_KINDS = ("ConfigMap", "ConfigMap", "Deployment", "Secret", "Service", "ServiceAccount")
SCALING = ("HorizontalPodAutoscaler", "PodDisruptionBudget")
REDIS = ("Deployment", "Service", "NetworkPolicy", "NetworkPolicy")
NO_SECRET = tuple(k for k in BASE_KINDS if k != "Secret")
EVERYTHING = ("ConfigMap", "Deployment", "Secret", "Service", "ServiceAccount")
EXPECTED_KINDS: dict[str, tuple[str, ...]] = {
    "defaults": (*BASE_KINDS, *SCALING),
    "serviceMonitor": (*BASE_KINDS, *SCALING, "ServiceMonitor"),
    "prometheusRule": (*BASE_KINDS, *SCALING, "PrometheusRule"),
    "networkPolicy": (*BASE_KINDS, *SCALING, "NetworkPolicy"),
    "inChartRedis": (*BASE_KINDS, *SCALING, *REDIS),
    "externalRedis": (*BASE_KINDS, *SCALING),
    "existingSecret": (*NO_SECRET, *SCALING),
    "hpaOff": (*BASE_KINDS, "PodDisruptionBudget"),
    "elastiCache": (*BASE_KINDS, *SCALING, "NetworkPolicy"),
    "everything": (
        *EVERYTHING,
        "HorizontalPodAutoscaler",
        "ServiceMonitor",
        "PrometheusRule",
        *REDIS,
    ),
}
DURATION = re.compile(r"^[0-9]+(ms|s|m|h|d)$")


def check_crd(doc: Manifest) -> None:
    """The shape of the Prometheus Operator kinds (kubernetes-validate has no schema of them)."""
    assert doc["apiVersion"] == "monitoring.coreos.com/v1"
    assert doc["metadata"]["name"] == FULLNAME
    assert set(doc) == {"apiVersion", "kind", "metadata", "spec"}
    spec = doc["spec"]
    if doc["kind"] == "ServiceMonitor":
        assert set(spec) == {"selector", "namespaceSelector", "endpoints"}
        assert spec["selector"]["matchLabels"]["app.kubernetes.io/component"] == "gateway"
        assert spec["namespaceSelector"] == {"matchNames": [NAMESPACE]}
        (endpoint,) = spec["endpoints"]
        assert endpoint["port"] == "http" and endpoint["path"] == "/metrics"
        assert DURATION.match(endpoint["interval"]) and DURATION.match(endpoint["scrapeTimeout"])
        return
    assert set(spec) == {"groups"} and spec["groups"]
    for group in spec["groups"]:
        assert set(group) == {"name", "rules"} and group["rules"]
        for rule in group["rules"]:
            assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}
            assert isinstance(rule["alert"], str) and isinstance(rule["expr"], str)
            assert "for" not in rule or DURATION.match(rule["for"])
            assert rule["labels"]["severity"] in {"warning", "critical"}
            assert rule["annotations"]["summary"] and rule["annotations"]["description"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_manifest_is_valid_kubernetes(chart: helm_python.Chart, scenario: str) -> None:
    docs = render(chart, SCENARIOS[scenario])
    assert kinds(docs) == sorted(EXPECTED_KINDS[scenario])
    for doc in docs:
        if doc["kind"] in CRD_KINDS:
            check_crd(doc)
        else:
            kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)
        assert doc["metadata"]["labels"]["app.kubernetes.io/instance"] == "gw"


@pytest.mark.parametrize("scenario", ["defaults", "everything", "existingSecret", "elastiCache"])
def test_helm_lint_is_clean(scenario: str) -> None:
    report = helm_python.lint(
        CHART,
        SCENARIOS[scenario],
        strict=True,
        namespace=NAMESPACE,
        kube_version=f"v{KUBE_VERSION}",
    )
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


def test_deployment_probes_security_and_termination(chart: helm_python.Chart) -> None:
    docs = render(chart)
    pod = find(docs, "Deployment", FULLNAME)["spec"]["template"]["spec"]
    container = gateway_container(docs)
    assert container["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]

    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = container["securityContext"]
    assert sc["runAsNonRoot"] is True and isinstance(sc["runAsUser"], int) and sc["runAsUser"] > 0
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False

    assert set(container["resources"]["requests"]) == {"cpu", "memory"}
    assert "memory" in container["resources"]["limits"]

    assert pod["terminationGracePeriodSeconds"] == 60
    assert container["lifecycle"]["preStop"] == {"exec": {"command": ["/bin/sleep", "10"]}}

    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    assert "emptyDir" in volumes[mounts["/var/run/prometheus-multiproc"]]
    # Two workers by default, sharing their samples through the memory-backed folder.
    assert container["args"][-2:] == ["--workers", "2"]
    multiproc = env_of(container)["PROMETHEUS_MULTIPROC_DIR"]["value"]
    assert volumes[mounts[multiproc]]["emptyDir"]["medium"] == "Memory"
    one = gateway_container(render(chart, {"config": {"workers": 1}}))
    assert "PROMETHEUS_MULTIPROC_DIR" not in env_of(one)  # one worker: in memory
    policies = volumes[mounts["/app/policies"]]
    assert policies["configMap"]["name"] == f"{FULLNAME}-policies"
    assert not any("subPath" in m for m in container["volumeMounts"])  # subPath never updates
    assert env_of(container)["GATEWAY_POLICIES"]["value"] == "/app/policies"


def test_pods_roll_on_key_changes_but_not_on_policy_changes(chart: helm_python.Chart) -> None:
    def annotations(values: dict[str, Any]) -> dict[str, str]:
        deployment = find(render(chart, values), "Deployment", FULLNAME)
        result: dict[str, str] = deployment["spec"]["template"]["metadata"]["annotations"]
        return result

    base = annotations({"auth": {"apiKeys": ["sk-key-00000001"]}})
    assert not any("polic" in name for name in base)
    assert annotations({"auth": {"apiKeys": ["sk-key-00000002"]}}) != base
    edited = {"auth": {"apiKeys": ["sk-key-00000001"]}, "policies": {"files": {"a.yaml": "x: 1"}}}
    assert annotations(edited) == base


def test_every_setting_has_its_env_variable(chart: helm_python.Chart) -> None:
    """Each GATEWAY_* setting is set by the chart (one value each), and no unknown one is."""
    values = {
        "auth": {"adminKey": "sk-admin-key"},
        "redis": {**ELASTICACHE, "auth": {**ELASTICACHE["auth"], "username": "gateway"}},
        "metrics": {"port": 9090, "key": "sk-metrics-key"},
    }
    env = env_of(gateway_container(render(chart, values)))
    settings = {f"GATEWAY_{name.upper()}" for name in Settings.model_fields}
    gateway_env = {name for name in env if name.startswith("GATEWAY_")}
    assert gateway_env == settings - {"GATEWAY_DEMO"}
    assert env["AWS_REGION"]["value"] == "us-east-1"


def test_config_values_map_one_to_one(chart: helm_python.Chart) -> None:
    config = {
        "workers": 4,
        "logFormat": "text",
        "logLevel": "DEBUG",
        "logPrompts": True,
        "maxBodyBytes": 1048576,
        "allowImageUrls": True,
        "corsOrigins": "https://a.example,https://b.example",
        "upstreamPoolSize": 64,
        "upstreamConnectTimeoutS": 2.5,
        "redisTimeoutS": 0.1,
        "redisRetryS": 2,
        "responsesTtlS": 86400,
        "discovery": "off",
        "discoveryIntervalS": 60,
    }
    values = {
        "config": config,
        "aws": {"region": "eu-central-1", "bedrockEndpointUrl": "https://vpce.example"},
        "extraEnv": [{"name": "HTTPS_PROXY", "value": "http://proxy:3128"}],
    }
    container = gateway_container(render(chart, values))
    env = {name: e.get("value") for name, e in env_of(container).items()}
    assert env["GATEWAY_LOG_FORMAT"] == "text"
    assert env["GATEWAY_LOG_LEVEL"] == "DEBUG"
    assert env["GATEWAY_LOG_PROMPTS"] == "true"
    assert env["GATEWAY_MAX_BODY_BYTES"] == "1048576"
    assert env["GATEWAY_ALLOW_IMAGE_URLS"] == "true"
    assert env["GATEWAY_CORS_ORIGINS"] == "https://a.example,https://b.example"
    assert env["GATEWAY_UPSTREAM_POOL_SIZE"] == "64"
    assert env["GATEWAY_UPSTREAM_CONNECT_TIMEOUT_S"] == "2.5"
    assert env["GATEWAY_REDIS_TIMEOUT_S"] == "0.1"
    assert env["GATEWAY_REDIS_RETRY_S"] == "2"
    assert env["GATEWAY_RESPONSES_TTL_S"] == "86400"
    assert env["GATEWAY_DISCOVERY"] == "off" and env["GATEWAY_DISCOVERY_INTERVAL_S"] == "60"
    assert env["AWS_REGION"] == "eu-central-1"
    assert env["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] == "https://vpce.example"
    assert env["HTTPS_PROXY"] == "http://proxy:3128"
    assert container["args"] == ["serve", "--host", "0.0.0.0", "--port", "8080", "--workers", "4"]
    multiproc = env["PROMETHEUS_MULTIPROC_DIR"]
    assert {"name": "prometheus-multiproc", "mountPath": multiproc} in container["volumeMounts"]
    # The rendered strings are what Settings accepts.
    gateway_values = {k: v for k, v in env.items() if k.startswith("GATEWAY_") and v is not None}
    settings = Settings(
        **{k.removeprefix("GATEWAY_").lower(): v for k, v in gateway_values.items()}
    )
    assert settings.max_body_bytes == 1048576 and settings.redis_timeout_s == 0.1


@pytest.mark.parametrize(
    "values",
    [
        {"replicaCuont": 3},
        {"config": {"logFromat": "json"}},
        {"config": {"logFormat": "xml"}},
        {"redis": {"internal": {"enabeld": True}}},
        {"auth": {"apiKey": "sk-1234567890"}},
        {"securityContext": {"runAsNonRoot": False, "runAsUser": 0}},
        {"probes": {"liveness": {"periodSecond": 5}}},
        {"image": {"repository": "x", "tag": "1", "pullpolicy": "Always"}},
        {"redis": {"host": "rediss://cache.example:6379"}},
        {"redis": {"url": "https://cache.example"}},
        {"redis": {"auth": {"existingSecret": "x", "passwordKey": "p"}}},
        {"redis": {"tlsCA": {"secret": "ca"}}},
        {"tracing": {"resourceAttributes": {"team": "a,b"}}},
        {"tracing": {"headers": "authorization=Bearer x"}},
    ],
    ids=lambda v: json.dumps(v, sort_keys=True),
)
def test_schema_rejects_typos_and_bad_values(
    chart: helm_python.Chart, values: dict[str, Any]
) -> None:
    with pytest.raises(helm_python.HelmValuesError, match="schema"):
        chart.render(values=values, name="gw")


def _objects(schema: Any, path: str = "$") -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(schema, dict):
        if "properties" in schema:
            found.append((path, schema))
        for key, sub in schema.items():
            found.extend(_objects(sub, f"{path}.{key}"))
    elif isinstance(schema, list):
        for i, sub in enumerate(schema):
            found.extend(_objects(sub, f"{path}[{i}]"))
    return found


def test_schema_closes_every_object_it_describes() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    objects = _objects(schema)
    assert len(objects) > 20
    assert [p for p, o in objects if o.get("additionalProperties") is not False] == []


def test_chart_policy_is_the_repositorys_and_valid(capsys: pytest.CaptureFixture[str]) -> None:
    chart_policy = CHART / "files" / "policies" / "default.yaml"
    assert chart_policy.read_text() == (REPO / "policies" / "default.yaml").read_text()
    assert sorted(p.name for p in chart_policy.parent.iterdir()) == ["default.yaml"]
    assert gateway_main(["check-policy", str(chart_policy.parent)]) == 0
    assert "route auto" in capsys.readouterr().out


def test_policies_configmap_carries_the_files(chart: helm_python.Chart) -> None:
    default = find(render(chart), "ConfigMap", f"{FULLNAME}-policies")
    assert default["data"] == {"default.yaml": (REPO / "policies" / "default.yaml").read_text()}

    override = {"policies": {"files": {"tenants.yaml": TENANT_POLICY}}}
    custom = find(render(chart, override), "ConfigMap", f"{FULLNAME}-policies")
    assert custom["data"] == {"tenants.yaml": TENANT_POLICY}

    docs = render(chart, {"policies": {"existingConfigMap": "my-policies"}})
    assert [d for d in docs if d["metadata"]["name"].endswith("-policies")] == []
    pod = find(docs, "Deployment", FULLNAME)["spec"]["template"]["spec"]
    assert {"name": "policies", "configMap": {"name": "my-policies"}} in pod["volumes"]


def _secret_ref(env: dict[str, dict[str, Any]], name: str) -> dict[str, Any]:
    ref: dict[str, Any] = env[name]["valueFrom"]["secretKeyRef"]
    return ref


def test_keys_come_from_the_charts_secret(chart: helm_python.Chart) -> None:
    generated = find(render(chart), "Secret", FULLNAME)["stringData"]
    assert set(generated) == {"GATEWAY_API_KEYS"}
    assert re.fullmatch(r"sk-gw-[A-Za-z0-9]{40}", generated["GATEWAY_API_KEYS"])

    values = {"auth": {"apiKeys": ["sk-one-00000001", "sk-two-00000002"], "adminKey": "sk-adm"}}
    docs = render(chart, values)
    assert find(docs, "Secret", FULLNAME)["stringData"] == {
        "GATEWAY_API_KEYS": "sk-one-00000001,sk-two-00000002",
        "GATEWAY_ADMIN_KEY": "sk-adm",
    }
    env = env_of(gateway_container(docs))
    assert _secret_ref(env, "GATEWAY_API_KEYS") == {"name": FULLNAME, "key": "GATEWAY_API_KEYS"}
    assert _secret_ref(env, "GATEWAY_ADMIN_KEY") == {"name": FULLNAME, "key": "GATEWAY_ADMIN_KEY"}
    assert "GATEWAY_REDIS_URL" not in env


def test_existing_secret_is_used_by_name(chart: helm_python.Chart) -> None:
    docs = render(chart, SCENARIOS["existingSecret"])
    assert [d for d in docs if d["kind"] == "Secret"] == []
    env = env_of(gateway_container(docs))
    assert _secret_ref(env, "GATEWAY_API_KEYS") == {
        "name": "my-gateway-keys",
        "key": "GATEWAY_API_KEYS",
    }
    assert _secret_ref(env, "GATEWAY_ADMIN_KEY")["name"] == "my-gateway-keys"
    assert "my-gateway-keys" in notes(chart, SCENARIOS["existingSecret"])


def test_external_redis_url_is_a_secret(chart: helm_python.Chart) -> None:
    docs = render(chart, SCENARIOS["externalRedis"])
    assert find(docs, "Secret", FULLNAME)["stringData"]["GATEWAY_REDIS_URL"] == REDIS_URL
    env = env_of(gateway_container(docs))
    assert _secret_ref(env, "GATEWAY_REDIS_URL") == {"name": FULLNAME, "key": "GATEWAY_REDIS_URL"}
    assert all(REDIS_URL not in json.dumps(d) for d in docs if d["kind"] != "Secret")

    by_name = render(chart, {"redis": {"existingSecret": "redis-conn"}})
    ref = _secret_ref(env_of(gateway_container(by_name)), "GATEWAY_REDIS_URL")
    assert ref == {"name": "redis-conn", "key": "GATEWAY_REDIS_URL"}


def test_cluster_redis_by_parts_with_auth_and_ca_from_the_cluster(
    chart: helm_python.Chart,
) -> None:
    """ElastiCache's shape: the URL is composed as a plain value (nothing secret in it), the
    AUTH token comes from the operator's Secret, the CA is mounted from their ConfigMap."""
    docs = render(chart, SCENARIOS["elastiCache"])
    container = gateway_container(docs)
    env = env_of(container)
    assert env["GATEWAY_REDIS_URL"]["value"] == f"rediss+cluster://{ELASTICACHE['host']}:6379/0"
    assert _secret_ref(env, "GATEWAY_REDIS_PASSWORD") == {
        "name": "gw-redis-auth",
        "key": "auth-token",
    }
    assert "GATEWAY_REDIS_USERNAME" not in env
    assert "GATEWAY_REDIS_URL" not in find(docs, "Secret", FULLNAME)["stringData"]
    ca_file = Path(env["GATEWAY_REDIS_CA_FILE"]["value"])
    mount = next(m for m in container["volumeMounts"] if m["name"] == "redis-ca")
    assert mount == {"name": "redis-ca", "mountPath": str(ca_file.parent), "readOnly": True}
    pod = find(docs, "Deployment", FULLNAME)["spec"]["template"]["spec"]
    volume = next(v for v in pod["volumes"] if v["name"] == "redis-ca")
    assert volume["configMap"] == {
        "name": "corp-ca",
        "items": [{"key": "ca.pem", "path": ca_file.name}],
    }
    egress = find(docs, "NetworkPolicy")["spec"]["egress"]
    assert 6379 in [p["port"] for rule in egress for p in rule["ports"]]
    # The same values by parts for a standalone server with TLS, on its own port and database.
    standalone = {"host": "10.0.0.7", "port": 6380, "tls": True, "database": 3}
    docs = render(chart, {"redis": standalone, "networkPolicy": {"enabled": True}})
    assert env_of(gateway_container(docs))["GATEWAY_REDIS_URL"]["value"] == (
        "rediss://10.0.0.7:6380/3"
    )
    egress = find(docs, "NetworkPolicy")["spec"]["egress"]
    assert 6380 in [p["port"] for rule in egress for p in rule["ports"]]


@pytest.mark.parametrize(
    ("auth", "expected"),
    [
        ({"username": "gateway"}, {"value": "gateway"}),
        (
            {"existingSecretUsernameKey": "user"},
            {"valueFrom": {"secretKeyRef": {"name": "redis-rbac", "key": "user"}}},
        ),
    ],
)
def test_an_acl_user_by_name_or_from_the_secret(
    chart: helm_python.Chart, auth: dict[str, str], expected: dict[str, Any]
) -> None:
    """ElastiCache RBAC and MemoryDB: a user and its password; a CA from a Secret works too."""
    values = {
        "redis": {
            "existingSecret": "redis-conn",
            "auth": {"existingSecret": "redis-rbac", **auth},
            "tlsCA": {"existingSecret": "redis-ca-cert"},
        }
    }
    docs = render(chart, values)
    env = env_of(gateway_container(docs))
    assert {k: v for k, v in env["GATEWAY_REDIS_USERNAME"].items() if k != "name"} == expected
    assert _secret_ref(env, "GATEWAY_REDIS_PASSWORD") == {"name": "redis-rbac", "key": "password"}
    pod = find(docs, "Deployment", FULLNAME)["spec"]["template"]["spec"]
    volume = next(v for v in pod["volumes"] if v["name"] == "redis-ca")
    assert volume["secret"]["secretName"] == "redis-ca-cert"


def test_in_chart_redis_is_pinned_non_root_and_ephemeral(chart: helm_python.Chart) -> None:
    docs = render(chart, SCENARIOS["inChartRedis"])
    name = f"{FULLNAME}-redis"
    env = env_of(gateway_container(docs))
    assert env["GATEWAY_REDIS_URL"]["value"] == f"redis://{name}:6379/0"
    pod = find(docs, "Deployment", name)["spec"]["template"]["spec"]
    (redis,) = pod["containers"]
    assert re.fullmatch(r"redis:7\.\d+\.\d+-alpine", redis["image"])
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert redis["securityContext"]["readOnlyRootFilesystem"] is True
    assert redis["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert redis["args"][:5] == ["redis-server", "--save", "", "--appendonly", "no"]
    assert all("emptyDir" in v for v in pod["volumes"])
    assert find(docs, "Service", name)["spec"]["ports"][0]["port"] == 6379
    policy = find(docs, "NetworkPolicy", name)["spec"]
    allowed = policy["ingress"][0]["from"][0]["podSelector"]["matchLabels"]
    assert allowed["app.kubernetes.io/component"] == "gateway"


ONE_REDIS = "set only one of redis.url, redis.existingSecret, redis.host"
HOST_ONLY = "describe redis.host"
NEEDS_TLS = "redis.tlsCA needs TLS"


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"redis": {"url": REDIS_URL, "internal": {"enabled": True}}}, ONE_REDIS),
        ({"redis": {"url": REDIS_URL, "existingSecret": "redis-conn"}}, ONE_REDIS),
        ({"auth": {"existingSecret": "keys", "apiKeys": ["sk-0123456789"]}}, "auth: set either"),
        ({"terminationGracePeriodSeconds": 30, "preStopSleepSeconds": 10}, "at least"),
        ({"redis": {"url": REDIS_URL, "host": "cache.example"}}, ONE_REDIS),
        ({"redis": {"host": "cache.example", "internal": {"enabled": True}}}, ONE_REDIS),
        ({"redis": {"url": "redis://cache.example:6379", "cluster": True}}, HOST_ONLY),
        ({"redis": {"existingSecret": "redis-conn", "tls": True}}, HOST_ONLY),
        ({"redis": {"host": "c.example", "cluster": True, "database": 2}}, "database 0 only"),
        (
            {"redis": {"internal": {"enabled": True}, "auth": {"existingSecret": "redis-auth"}}},
            "redis.auth is for an external Redis",
        ),
        ({"redis": {"auth": {"existingSecret": "redis-auth"}}}, "redis.auth is for an external"),
        ({"redis": {"host": "c.example", "auth": {"username": "gw"}}}, "username needs"),
        (
            {
                "redis": {
                    "host": "cache.example",
                    "auth": {
                        "existingSecret": "redis-auth",
                        "username": "gw",
                        "existingSecretUsernameKey": "user",
                    },
                }
            },
            "redis.auth: set redis.auth.username or",
        ),
        (
            {"redis": {"url": REDIS_URL, "auth": {"existingSecret": "redis-auth"}}},
            "redis.url carries credentials",
        ),
        ({"redis": {"host": "c.example", "tlsCA": {"existingSecret": "ca"}}}, NEEDS_TLS),
        ({"redis": {"url": "redis://c.example", "tlsCA": {"existingSecret": "ca"}}}, NEEDS_TLS),
        ({"redis": {"tlsCA": {"existingConfigMap": "ca"}}}, "for an external Redis with TLS"),
        (
            {
                "redis": {
                    "host": "cache.example",
                    "tls": True,
                    "tlsCA": {"existingSecret": "ca", "existingConfigMap": "ca"},
                }
            },
            "redis.tlsCA: set existingSecret or existingConfigMap",
        ),
    ],
    ids=lambda v: json.dumps(v, sort_keys=True) if isinstance(v, dict) else "",
)
def test_contradicting_values_are_refused(
    chart: helm_python.Chart, values: dict[str, Any], reason: str
) -> None:
    with pytest.raises(helm_python.HelmRenderError, match=re.escape(reason)):
        chart.render(values=values, name="gw")


def test_replicas_belong_to_the_hpa_unless_it_is_off(chart: helm_python.Chart) -> None:
    docs = render(chart)
    assert "replicas" not in find(docs, "Deployment", FULLNAME)["spec"]
    hpa = find(docs, "HorizontalPodAutoscaler")["spec"]
    assert hpa["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": FULLNAME,
    }
    assert hpa["metrics"][0]["resource"]["name"] == "cpu"
    assert find(docs, "PodDisruptionBudget")["spec"]["maxUnavailable"] == 1
    off = render(chart, SCENARIOS["hpaOff"])
    assert find(off, "Deployment", FULLNAME)["spec"]["replicas"] == 3


def test_service_account_carries_the_irsa_role(chart: helm_python.Chart) -> None:
    docs = render(chart, SCENARIOS["everything"])
    account = find(docs, "ServiceAccount")
    assert account["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/llm-gateway"
    }
    pod = find(docs, "Deployment", FULLNAME)["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == account["metadata"]["name"]
    with pytest.raises(helm_python.HelmValuesError):
        chart.render(values={"serviceAccount": {"roleArn": "my-role"}}, name="gw")


def test_network_policy_opens_only_what_the_gateway_uses(chart: helm_python.Chart) -> None:
    spec = find(render(chart, SCENARIOS["networkPolicy"]), "NetworkPolicy")["spec"]
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    (ingress,) = spec["ingress"]
    assert ingress["ports"] == [{"port": "http", "protocol": "TCP"}]
    assert ingress["from"] == SCENARIOS["networkPolicy"]["networkPolicy"]["ingressFrom"]
    ports = sorted(p["port"] for rule in spec["egress"] for p in rule["ports"])
    assert ports == [53, 53, 443, 6379]


def test_metrics_on_its_own_port_behind_a_key(chart: helm_python.Chart) -> None:
    """metrics.port: a container and Service port "metrics" that the ServiceMonitor scrapes
    (with metrics.key as its bearer token) and the NetworkPolicy opens to metricsFrom only."""
    scraper = [{"namespaceSelector": {"matchLabels": {"name": "monitoring"}}}]
    values = {
        "metrics": {"port": 9090, "key": "sk-metrics-key", "metricsFrom": scraper},
        "serviceMonitor": {"enabled": True},
        "networkPolicy": {"enabled": True},
    }
    docs = render(chart, values)
    env = env_of(gateway_container(docs))
    assert env["GATEWAY_METRICS_PORT"]["value"] == "9090"
    secret_ref = env["GATEWAY_METRICS_KEY"]["valueFrom"]["secretKeyRef"]
    assert find(docs, "Secret")["stringData"][secret_ref["key"]] == "sk-metrics-key"
    ports = {p["name"]: p["containerPort"] for p in gateway_container(docs)["ports"]}
    assert ports == {"http": 8080, "metrics": 9090}
    service_ports = {p["name"]: p["port"] for p in find(docs, "Service")["spec"]["ports"]}
    assert service_ports["metrics"] == 9090
    (endpoint,) = find(docs, "ServiceMonitor")["spec"]["endpoints"]
    assert endpoint["port"] == "metrics"
    assert endpoint["bearerTokenSecret"] == {"name": secret_ref["name"], "key": secret_ref["key"]}
    ingress = find(docs, "NetworkPolicy")["spec"]["ingress"]
    assert {"ports": [{"port": "metrics", "protocol": "TCP"}], "from": scraper} in ingress
    off = env_of(gateway_container(render(chart, {"metrics": {"tenantLabels": False}})))
    assert off["GATEWAY_METRICS_TENANT_LABELS"]["value"] == "false"
    assert "GATEWAY_METRICS_PORT" not in off and "GATEWAY_METRICS_KEY" not in off


def test_dashboard_configmap_is_found_by_grafanas_sidecar(chart: helm_python.Chart) -> None:
    configmap = find(render(chart), "ConfigMap", f"{FULLNAME}-dashboards")
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    shipped = (CHART / "files" / "dashboards" / "gateway.json").read_text()
    assert json.loads(configmap["data"]["llm-gateway.json"]) == json.loads(shipped)


def test_notes_tell_how_to_reach_it(chart: helm_python.Chart) -> None:
    text = notes(chart)
    assert f"port-forward svc/{FULLNAME} 8080:8080" in text
    assert 'curl -s http://127.0.0.1:8080/v1/models -H "Authorization: Bearer $KEY"' in text
    assert "/metrics" in text and "GATEWAY_API_KEYS" in text


def test_chart_files_are_all_used() -> None:
    files = sorted(str(p.relative_to(CHART)) for p in (CHART / "files").rglob("*") if p.is_file())
    assert files == [
        "files/alerts.yaml",
        "files/dashboards/gateway.json",
        "files/policies/default.yaml",
    ]
    assert Path(CHART / "values.schema.json").is_file()


def test_tracing_values_set_the_standard_otel_variables(chart: helm_python.Chart) -> None:
    assert not any(n.startswith("OTEL_") for n in env_of(gateway_container(render(chart))))
    values = {
        "tracing": {
            "otlpEndpoint": "http://otel-collector.observability:4318",
            "sampler": "parentbased_traceidratio",
            "samplerArg": "0.1",
        },
        "networkPolicy": {"enabled": True},
    }
    docs = render(chart, values)
    env = {name: e.get("value") for name, e in env_of(gateway_container(docs)).items()}
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector.observability:4318"
    assert env["OTEL_SERVICE_NAME"] == "llm-gateway"
    assert env["OTEL_TRACES_SAMPLER"] == "parentbased_traceidratio"
    assert env["OTEL_TRACES_SAMPLER_ARG"] == "0.1"
    spec = find(docs, "NetworkPolicy")["spec"]
    assert 4318 in [p["port"] for rule in spec["egress"] for p in rule["ports"]]
    assert "OTEL_EXPORTER_OTLP_HEADERS" not in env and "OTEL_RESOURCE_ATTRIBUTES" not in env
    with pytest.raises(helm_python.HelmValuesError):
        chart.render(values={"tracing": {"sampler": "sometimes"}}, name="gw")


def test_tracing_headers_come_from_a_secret(chart: helm_python.Chart) -> None:
    """A collector that needs auth (a vendor's OTLP endpoint): its headers never in the manifest."""
    env = env_of(gateway_container(render(chart, {"tracing": OTLP})))
    assert _secret_ref(env, "OTEL_EXPORTER_OTLP_HEADERS") == {
        "name": "otlp-auth",
        "key": "OTEL_EXPORTER_OTLP_HEADERS",
    }
    assert env["OTEL_SERVICE_NAME"]["value"] == "gw-prod"
    assert env["OTEL_RESOURCE_ATTRIBUTES"]["value"] == "deployment.environment.name=prod"
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"] == "https://otlp.vendor.example"
