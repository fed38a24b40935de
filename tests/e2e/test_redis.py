"""E2E: the gateway with a real Redis — shared cache, single-flight, limits across two
processes, and serving on (uncached) while Redis is down."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx2 as httpx
import openai
import pytest
import redis as redis_sync

from gateway.emulator.runner import RunningEmulator
from tests.support.process import GatewayProcess
from tests.support.redis_server import RedisServer, running_redis
from tests.support.servers import running_gateway

POLICY = Path(__file__).parent / "policies" / "redis.yaml"
KEY = "sk-redis-client"
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
REDIS_TIMEOUT_S = 0.2


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    with running_redis() as server:
        yield server


def _calls(emulator: RunningEmulator) -> int:
    return emulator.state.counts().get(HAIKU, {}).get("converse", 0)


def _ask(url: str, text: str, key: str = KEY) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/chat/completions",
        json={"model": "haiku", "messages": [{"role": "user", "content": text}], "temperature": 0},
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )


@pytest.fixture(scope="module")
def gateways(
    redis: RedisServer, emulator: RunningEmulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[str]]:
    """Two gateway processes sharing one Redis, as two replicas behind a Service."""
    env = {
        "GATEWAY_POLICIES": str(POLICY),
        "GATEWAY_API_KEYS": KEY,
        "GATEWAY_REDIS_URL": redis.url,
        "GATEWAY_REDIS_TIMEOUT_S": str(REDIS_TIMEOUT_S),
    }
    logs = tmp_path_factory.mktemp("replicas")
    procs = [GatewayProcess(env, log_path=logs / f"gw{i}.log") for i in range(2)]
    for proc in procs:
        proc.wait_ready()
    yield [p.url for p in procs]
    for proc in procs:
        proc.stop()


def test_cache_is_shared_and_every_key_has_a_ttl(gateways: list[str], redis: RedisServer) -> None:
    text = f"shared {uuid.uuid4()}"
    assert _ask(gateways[0], text).headers["x-gateway-cache"] == "miss"
    assert _ask(gateways[1], text).headers["x-gateway-cache"] == "hit"
    client = redis_sync.Redis.from_url(redis.url)
    keys = [k.decode() for k in client.scan_iter("*")]
    assert keys and all(k.startswith("gw:") for k in keys)
    for key in keys:
        assert client.ttl(key) > 0, key
    client.close()


def test_identical_concurrent_misses_make_one_call_in_one_process(
    redis: RedisServer, emulator: RunningEmulator
) -> None:
    emulator.state.set_fault(HAIKU, "slow", delay_ms=300)
    with running_gateway(policies=POLICY, api_keys=KEY, redis_url=redis.url) as gw:
        text = f"flight {uuid.uuid4()}"
        before = _calls(emulator)
        with ThreadPoolExecutor(8) as pool:
            responses = list(pool.map(lambda _: _ask(gw.url, text), range(8)))
    emulator.state.clear_faults()
    assert [r.status_code for r in responses] == [200] * 8
    assert _calls(emulator) - before == 1
    states = sorted(r.headers["x-gateway-cache"] for r in responses)
    assert states == ["hit"] * 7 + ["miss"]
    assert len({r.json()["choices"][0]["message"]["content"] for r in responses}) == 1


def test_identical_concurrent_misses_make_one_call_across_two_processes(
    gateways: list[str], emulator: RunningEmulator
) -> None:
    emulator.state.set_fault(HAIKU, "slow", delay_ms=400)
    text = f"flight2 {uuid.uuid4()}"
    before = _calls(emulator)
    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda i: _ask(gateways[i % 2], text), range(8)))
    emulator.state.clear_faults()
    assert [r.status_code for r in responses] == [200] * 8
    assert _calls(emulator) - before == 1


def test_rate_limit_holds_across_two_processes(gateways: list[str]) -> None:
    statuses = [
        _ask(gateways[i % 2], f"limit {uuid.uuid4()}", key="sk-redis-limited") for i in range(10)
    ]
    ok = [r for r in statuses if r.status_code == 200]
    refused = [r for r in statuses if r.status_code == 429]
    assert len(ok) == 5 and len(refused) == 5
    error: dict[str, Any] = refused[0].json()["error"]
    assert error["type"] == "rate_limit_error" and error["code"] == "rate_limit_exceeded"
    assert float(refused[0].headers["retry-after"]) >= 1


def test_budget_holds_across_two_processes(gateways: list[str]) -> None:
    first = _ask(gateways[0], f"spend {uuid.uuid4()}", key="sk-redis-broke")
    assert first.status_code == 200
    for url in gateways:
        refused = _ask(url, f"spend {uuid.uuid4()}", key="sk-redis-broke")
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "insufficient_quota"
        assert int(refused.headers["retry-after"]) > 0
    client = openai.OpenAI(base_url=f"{gateways[1]}/v1", api_key="sk-redis-broke", max_retries=0)
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="haiku", messages=[{"role": "user", "content": "x"}])


BURST_BUDGET = 0.0002  # the `burst` tenant's usd_per_day


@pytest.fixture(scope="module")
def patient_gateways(
    redis: RedisServer, emulator: RunningEmulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[str]]:
    """Two replicas whose Redis timeout a loaded 2-core test machine never reaches, so the
    burst exercises the shared reservation rather than the per-replica fallback."""
    env = {
        "GATEWAY_POLICIES": str(POLICY),
        "GATEWAY_API_KEYS": KEY,
        "GATEWAY_REDIS_URL": redis.url,
        "GATEWAY_REDIS_TIMEOUT_S": "5",
    }
    logs = tmp_path_factory.mktemp("patient")
    procs = [GatewayProcess(env, log_path=logs / f"gw{i}.log") for i in range(2)]
    for proc in procs:
        proc.wait_ready()
    yield [p.url for p in procs]
    for proc in procs:
        proc.stop()


def test_budget_holds_under_a_burst_on_two_processes(
    patient_gateways: list[str], redis: RedisServer, emulator: RunningEmulator
) -> None:
    """40 concurrent requests over two replicas: each reserves its cost bound before calling
    Bedrock, so the day's spend passes the budget by at most one request's cost."""
    gateways = patient_gateways
    emulator.state.set_fault(HAIKU, "slow", delay_ms=200)  # the burst overlaps in flight

    def ask(i: int) -> httpx.Response:
        return httpx.post(
            f"{gateways[i % 2]}/v1/chat/completions",
            json={
                "model": "haiku",
                "messages": [{"role": "user", "content": f"burst {i} {uuid.uuid4()}"}],
                "max_tokens": 20,
            },
            headers={"Authorization": "Bearer sk-redis-burst"},
            timeout=30,
        )

    with ThreadPoolExecutor(40) as pool:
        responses = list(pool.map(ask, range(40)))
    emulator.state.clear_faults()
    ok = [r for r in responses if r.status_code == 200]
    refused = [r for r in responses if r.status_code == 429]
    costs = [float(r.headers["x-gateway-cost-usd"]) for r in ok]
    spent = sum(costs)
    print(
        f"burst: {len(ok)}/40 admitted, spend ${spent:.8f} of a ${BURST_BUDGET} budget "
        f"(overshoot ${max(0.0, spent - BURST_BUDGET):.8f}, one request ${max(costs):.8f})"
    )
    assert len(ok) + len(refused) == 40
    assert refused and all(r.json()["error"]["code"] == "insufficient_quota" for r in refused)
    client = redis_sync.Redis.from_url(redis.url)
    [key] = client.keys("gw:spend:{burst}:*")
    counted = float(client.get(key) or 0)
    client.close()
    assert spent <= BURST_BUDGET + max(costs)
    assert counted == pytest.approx(spent, abs=1e-8 * len(ok))  # reservations settled to real cost


def test_redis_down_serves_uncached_then_recovers(emulator: RunningEmulator) -> None:
    with (
        running_redis() as redis,
        running_gateway(
            policies=POLICY,
            api_keys=KEY,
            redis_url=redis.url,
            redis_timeout_s=REDIS_TIMEOUT_S,
            redis_retry_s=0.5,
        ) as gw,
    ):
        text = f"outage {uuid.uuid4()}"
        assert _ask(gw.url, text).headers["x-gateway-cache"] == "miss"
        assert _ask(gw.url, text).headers["x-gateway-cache"] == "hit"
        upstream = _timed(lambda: _ask(gw.url, f"baseline {uuid.uuid4()}"))[1]
        redis.stop()
        for i in range(10):
            response, took = _timed(lambda i=i: _ask(gw.url, f"{text} {i}"))
            assert response.status_code == 200
            assert response.headers["x-gateway-cache"] in {"off", "miss"}
            assert took < REDIS_TIMEOUT_S * 2 + upstream + 0.5
        ready = httpx.get(f"{gw.url}/readyz").json()
        assert ready["redis"] == "degraded"
        metrics = httpx.get(f"{gw.url}/metrics").text
        assert 'gateway_redis_errors_total{op="cache_get"}' in metrics
        redis.restart()
        time.sleep(0.7)
        again = f"recovered {uuid.uuid4()}"
        _ask(gw.url, again)
        assert _wait(lambda: _ask(gw.url, again).headers["x-gateway-cache"] == "hit")
        assert httpx.get(f"{gw.url}/readyz").json()["redis"] == "ok"


def _timed(fn: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def _wait(predicate: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_readyz_reports_redis_ok(gateways: list[str]) -> None:
    body = httpx.get(f"{gateways[0]}/readyz").json()
    assert body["redis"] == "ok" and body["cache"] == "redis"
