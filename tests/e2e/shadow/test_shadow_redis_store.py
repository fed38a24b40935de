"""Shadow aggregates in a real Redis: replicas share them and read what memory would say."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from gateway.cache.redis_client import RedisConnection
from gateway.routing import load_policy
from gateway.shadow.agreement import Agreement
from gateway.shadow.redis_store import RedisShadowStore
from gateway.shadow.report import build_report
from gateway.shadow.stats_store import MemoryShadowStore, Observation, PairKey
from tests.e2e.shadow.conftest import POLICY
from tests.support.redis_server import RedisServer, redis_binary, running_redis

if redis_binary() is None:  # pragma: no cover - the dev image has it
    pytest.skip("redis-server is not on PATH", allow_module_level=True)

DAY = "2026-03-01"


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    with running_redis() as server:
        yield server


@pytest.fixture
async def conns(redis_server: RedisServer) -> AsyncIterator[list[RedisConnection]]:
    prefix = f"gws-{uuid.uuid4().hex[:8]}:"
    made = [RedisConnection.from_url(redis_server.url, timeout_s=0.5, prefix=prefix) for _ in "ab"]
    yield made
    for conn in made:
        await conn.close()


def observations() -> list[Observation]:
    out = []
    for i in range(5):
        key = PairKey("shadowed", "claude-3-haiku", "nova-lite" if i % 2 else "mistral-large")
        error = "throttled" if i == 4 else None
        agreement = None if error else Agreement(i % 3 == 0, i % 2 == 0, None, None, 0.9, 0.8)
        out.append(
            Observation(
                key, error, 0.1 * (i + 1), 0.05, 10 + i, 5, 0.001 * i, 0.2, 0.1, 0.003, agreement
            )
        )
    return out


async def test_two_replicas_share_one_view_equal_to_memory(conns: list[RedisConnection]) -> None:
    replica_a, replica_b = RedisShadowStore(conns[0]), RedisShadowStore(conns[1])
    memory = MemoryShadowStore()
    for index, item in enumerate(observations()):
        await (replica_a if index % 2 else replica_b).record(item)
        memory.add(item)
    for store in (replica_a, replica_b, memory, memory):  # memory sees both replicas' counts
        store.count_request("shadowed", 100.0)
        store.count_drop("shadowed", "llama3-1-70b", "ineligible:safety_tier")
    assert await replica_a.add_spend("shadowed", DAY, 0.5) == 0.5
    assert await replica_b.add_spend("shadowed", DAY, 0.25) == 0.75
    await memory.add_spend("shadowed", DAY, 0.75)
    await replica_a.flush()
    policy = load_policy(POLICY)
    shared_snap, local_snap = await replica_b.snapshot(DAY), await memory.snapshot(DAY)
    assert shared_snap.shared and not shared_snap.degraded
    shared = build_report(shared_snap, policy, now=4000.0, in_flight={}, store="redis")
    local = build_report(local_snap, policy, now=4000.0, in_flight={}, store="redis")
    assert shared["routes"]["shadowed"]["requests"] == 2
    assert shared["routes"]["shadowed"]["spent_today_usd"] == 0.75
    assert shared == local


async def test_a_dead_redis_is_reported_degraded_and_counts_wait(
    redis_server: RedisServer,
) -> None:
    conn = RedisConnection.from_url("redis://127.0.0.1:1/0", timeout_s=0.2, prefix="x:")
    store = RedisShadowStore(conn)
    store.count_request("shadowed", 1.0)
    snap = await store.snapshot(DAY)
    assert snap.degraded and not snap.pairs
    assert store._pending_requests == {"shadowed": (1, 1.0)}  # kept for the next flush
    await conn.close()


def test_two_gateways_share_the_report_through_redis(
    redis_server: RedisServer, emulator: object
) -> None:
    """Two gateway replicas, each with a Redis-backed runner: either one reports both's work."""
    import httpx2 as httpx

    from gateway.shadow.runner import ShadowRunner
    from tests.e2e.shadow.conftest import ADMIN_KEY, calls_of, chat, settled_report, start_gateway

    prefix = f"gws-{uuid.uuid4().hex[:8]}:"
    servers = [start_gateway()[0] for _ in range(2)]
    try:
        for server in servers:
            runner = server.state.shadow
            assert isinstance(runner, ShadowRunner)
            conn = RedisConnection.from_url(redis_server.url, timeout_s=0.5, prefix=prefix)
            runner.store = RedisShadowStore(conn)  # what the lifespan does when Redis is set
        body = {"model": "limited", "messages": [{"role": "user", "content": "hi"}]}
        for server in servers:
            with httpx.Client(base_url=server.url, timeout=30) as http:
                assert chat(http, body).status_code == 200
                settled_report(http, lambda d: calls_of(d, "limited") >= 1)
        with httpx.Client(base_url=servers[0].url, timeout=30) as http:
            data = settled_report(http, lambda d: calls_of(d, "limited") == 2)
            assert data["store"] == "redis" and not data["degraded"]
            assert data["routes"]["limited"]["requests"] == 2
        with httpx.Client(base_url=servers[1].url, timeout=30) as http:
            auth = {"authorization": f"Bearer {ADMIN_KEY}"}
            other = http.get("/v1/gateway/shadow", headers=auth).json()["routes"]["limited"]
            assert other["primaries"] == data["routes"]["limited"]["primaries"]
            assert other["requests"] == 2
    finally:
        for server in servers:
            server.stop()
