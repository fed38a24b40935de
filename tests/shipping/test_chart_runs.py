"""The chart's configuration, run: a real ``gateway serve`` process with exactly the environment,
arguments and mounted files a pod of the rendered Deployment gets (Secrets resolved as kubelet
would), against real servers: a TLS-only Redis Cluster with an AUTH token (ElastiCache in
cluster mode), a TLS-only Redis with an ACL user (ElastiCache RBAC, MemoryDB), and an OTLP/HTTP
collector that wants a header."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import helm_python
import httpx2 as httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.emulator.credentials import EMULATOR_REGION
from gateway.emulator.runner import RunningEmulator
from tests.shipping.kit import render
from tests.shipping.pod import Namespace, pod_of
from tests.support.otlp_collector import running_collector
from tests.support.process import GatewayProcess
from tests.support.redis_cluster import RedisCluster
from tests.support.redis_server import RedisServer, ServerTls, redis_binary

if redis_binary() is None or shutil.which("redis-cli") is None:  # pragma: no cover
    pytest.skip("redis-server and redis-cli are needed", allow_module_level=True)

KEY = "sk-chart-run-0123456789"
TOKEN = "elasticache-auth-token-0123456789"
USER, PASSWORD = "gateway", "rbac-pw-#%:/@-0123456789"


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> ServerTls:
    return ServerTls.make(tmp_path_factory.mktemp("redis-tls"))


def _values(emulator: RunningEmulator, workers: int = 1, **parts: Any) -> dict[str, Any]:
    """The chart's values with the emulator as Bedrock and one client key. Redis calls may
    take 2 s (not 0.25): a loaded test machine doing TLS handshakes must not fail open."""
    return {
        "aws": {"region": EMULATOR_REGION, "bedrockEndpointUrl": emulator.url},
        "auth": {"apiKeys": [KEY]},
        "config": {"workers": workers, "redisTimeoutS": 2},
        **parts,
    }


@pytest.fixture
def run_chart(chart: helm_python.Chart, tmp_path: Path) -> Iterator[Any]:
    """``run(values, namespace)``: the gateway as the rendered pod, ready; stopped after."""
    procs: list[GatewayProcess] = []

    def run(values: dict[str, Any], namespace: Namespace) -> GatewayProcess:
        pod = pod_of(render(chart, values), namespace, tmp_path / "pod")
        proc = GatewayProcess(pod.env, args=pod.serve_args, log_path=tmp_path / "gateway.log")
        procs.append(proc)
        return proc.wait_ready(timeout=40)

    yield run
    for proc in procs:
        assert proc.stop() == 0


def _cached_twice(url: str) -> list[str]:
    """Two identical deterministic requests: their ``x-gateway-cache`` headers."""
    sdk = openai.OpenAI(base_url=f"{url}/v1", api_key=KEY, max_retries=0)
    outcomes = []
    for _ in range(2):
        raw = sdk.chat.completions.with_raw_response.create(
            model="claude-3-haiku",
            messages=[{"role": "user", "content": f"cached through the chart {url}"}],
            temperature=0,
        )
        outcomes.append(raw.headers["x-gateway-cache"])
    return outcomes


def _redis_errors(url: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "gateway_redis_errors_total"
    )


def test_elasticache_cluster_mode_values_run(
    run_chart: Any, emulator: RunningEmulator, tls: ServerTls
) -> None:
    """``redis.host`` + ``cluster`` + ``tls``, the AUTH token from the operator's Secret, the CA
    from their ConfigMap, two workers: answers are cached in the cluster, nothing fails."""
    cluster = RedisCluster(password=TOKEN, tls=tls).start()
    try:
        redis = {
            "host": "127.0.0.1",
            "port": cluster.nodes[0].port,
            "cluster": True,
            "tls": True,
            "auth": {"existingSecret": "gw-redis-auth", "existingSecretPasswordKey": "token"},
            "tlsCA": {"existingConfigMap": "corp-ca", "key": "ca.pem"},
        }
        namespace = Namespace(
            secrets={"gw-redis-auth": {"token": TOKEN}},
            config_maps={"corp-ca": {"ca.pem": tls.ca_file.read_text()}},
        )
        proc = run_chart(_values(emulator, workers=2, redis=redis), namespace)
        assert _cached_twice(proc.url) == ["miss", "hit"]
        stored = sum(
            int(node.command("DBSIZE").split(b":")[1].split(b"\r")[0])
            for node in cluster.nodes
            if node.running
        )
        assert stored >= 1  # the entry on its master (its replica copies it when it can)
        assert _redis_errors(proc.url) == 0
        assert TOKEN not in proc.output()
    finally:
        cluster.close()


def test_an_acl_user_and_a_url_secret_run(
    run_chart: Any, emulator: RunningEmulator, tls: ServerTls
) -> None:
    """The URL in one Secret (no credentials in it), the user and password in another, the CA
    from a third: the gateway authenticates as that user."""
    server = RedisServer(username=USER, password=PASSWORD, tls=tls).start()
    try:
        redis = {
            "existingSecret": "redis-conn",
            "auth": {"existingSecret": "redis-rbac", "existingSecretUsernameKey": "user"},
            "tlsCA": {"existingSecret": "redis-ca"},
        }
        namespace = Namespace(
            secrets={
                "redis-conn": {"GATEWAY_REDIS_URL": f"rediss://127.0.0.1:{server.port}/0"},
                "redis-rbac": {"user": USER, "password": PASSWORD},
                "redis-ca": {"ca.crt": tls.ca_file.read_text()},
            }
        )
        proc = run_chart(_values(emulator, redis=redis), namespace)
        assert _cached_twice(proc.url) == ["miss", "hit"]
        assert f"user={USER}".encode() in server.command("CLIENT", "LIST")
        assert _redis_errors(proc.url) == 0
    finally:
        server.close()


def test_the_otlp_headers_secret_and_service_name_reach_the_collector(
    run_chart: Any, emulator: RunningEmulator
) -> None:
    with running_collector() as collector:
        tracing = {
            "otlpEndpoint": collector.url,
            "serviceName": "gw-from-chart",
            "existingSecret": "otlp-auth",
            "resourceAttributes": {"deployment.environment.name": "test"},
        }
        namespace = Namespace(
            secrets={"otlp-auth": {"OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer t0ken"}}
        )
        proc = run_chart(_values(emulator, tracing=tracing), namespace)
        sdk = openai.OpenAI(base_url=f"{proc.url}/v1", api_key=KEY, max_retries=0)
        sdk.chat.completions.create(
            model="claude-3-haiku", messages=[{"role": "user", "content": "traced"}]
        )
        deadline = time.monotonic() + 20  # the batch processor exports within 5 s
        while not collector.exports and time.monotonic() < deadline:
            time.sleep(0.1)
        with collector.lock:
            assert collector.exports, "no span reached the collector"
            headers, resource = collector.exports[0]
    assert headers["authorization"] == "Bearer t0ken"
    assert resource["service.name"] == "gw-from-chart"
    assert resource["deployment.environment.name"] == "test"
