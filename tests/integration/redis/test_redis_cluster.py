"""Redis Cluster: a real local cluster (three masters, one replica each) from redis-server
binaries. Limits, budgets, cache, single-flight and shared stats work in cluster mode; tenant
names with braces keep their keys in one slot; a master killed mid-run (its replica promoted)
loses no request, and limits are enforced through Redis again after it."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from gateway.cache.redis_cache import RedisCache
from gateway.cache.redis_client import RedisConnection
from gateway.cache.shared_stats import SharedStats
from gateway.cache.singleflight import RedisFlightLock
from gateway.limits.memory import MemoryLimits
from gateway.limits.redis_limits import RedisLimits, slot_tag
from gateway.routing.policy import RateLimit
from gateway.routing.stats import LocalStats
from tests.support.redis_cluster import RedisCluster, cluster_slot

if shutil.which("redis-cli") is None:  # pragma: no cover - Debian's redis-tools has it
    pytest.skip("redis-cli is not on PATH", allow_module_level=True)

TIMEOUT_S = 2.0
TENANTS = ["plain", "{braced}", "}{", "", "a}b{c", "%7B"]


@pytest.fixture(scope="module")
def cluster() -> Iterator[RedisCluster]:
    running = RedisCluster().start()
    try:
        yield running
    finally:
        running.close()


@pytest.fixture
async def conns(cluster: RedisCluster) -> AsyncIterator[tuple[RedisConnection, RedisConnection]]:
    """Two replicas' connections to the cluster, sharing one key prefix."""
    prefix = f"gwc-{uuid.uuid4().hex[:8]}:"
    pair = tuple(
        RedisConnection.from_url(cluster.url, timeout_s=TIMEOUT_S, prefix=prefix, pause_s=0.2)
        for _ in range(2)
    )
    yield pair  # type: ignore[misc]
    for conn in pair:
        await conn.close()


@pytest.mark.parametrize("tenant", TENANTS)
def test_a_tenants_keys_share_one_slot_whatever_its_name(tenant: str) -> None:
    keys = [f"gw:limit:{slot_tag(tenant)}:req", f"gw:limit:{slot_tag(tenant)}:tok"]
    keys.append(f"gw:spend:{slot_tag(tenant)}:2026-12-02")
    assert len({cluster_slot(k) for k in keys}) == 1
    assert slot_tag(tenant) != slot_tag(tenant + "x")


@pytest.mark.parametrize("tenant", ["plain", "a}b{c"])
async def test_two_replicas_share_exactly_n_in_cluster_mode(
    conns: tuple[RedisConnection, RedisConnection], tenant: str
) -> None:
    a, b = (RedisLimits(c, MemoryLimits()) for c in conns)
    limit = RateLimit(30, 1000)
    outcomes = await asyncio.gather(
        *(replica.acquire(tenant, limit, 10) for _ in range(25) for replica in (a, b))
    )
    assert sum(r.allowed for r in outcomes) == 30
    assert all(c.healthy for c in conns)  # answered by the cluster, not the fallback


async def test_budgets_reserve_and_settle_across_replicas(
    conns: tuple[RedisConnection, RedisConnection],
) -> None:
    a, b = (RedisLimits(c, MemoryLimits()) for c in conns)
    results = await asyncio.gather(
        *(replica.reserve_spend("{team}", 1.0, 0.3) for _ in range(3) for replica in (a, b))
    )
    holds = [hold for allowed, hold in results if allowed.allowed and hold is not None]
    # Admitted while spend + reservations is below $1.00: 0, 0.3, 0.6, 0.9 -> four, not six.
    assert len(holds) == 4
    for hold in holds:
        await a.settle_spend(hold, 0.1)
    assert (await b.spend_allowed("{team}", 0.41)).allowed  # $0.40 spent
    assert not (await b.spend_allowed("{team}", 0.39)).allowed
    assert all(c.healthy for c in conns)


async def test_cache_single_flight_and_shared_stats_in_cluster_mode(
    conns: tuple[RedisConnection, RedisConnection],
) -> None:
    first, second = conns
    cache = RedisCache(first)
    await cache.set("v2:answer", b"cached", 60)
    assert await RedisCache(second).get("v2:answer") == b"cached"
    lock_a, lock_b = RedisFlightLock(first), RedisFlightLock(second)
    assert await lock_a.acquire("k", 5.0)
    assert not await lock_b.acquire("k", 5.0)
    await lock_a.release("k")
    assert await lock_b.acquire("k", 5.0)
    stats_a, stats_b = LocalStats(), LocalStats()
    stats_a.record_success("m", latency_ms=120.0)
    shared_a, shared_b = SharedStats(stats_a, first), SharedStats(stats_b, second)
    await shared_a.sync_once()
    await shared_b.sync_once()
    assert stats_b.latency_ms("m", False) is not None
    assert first.healthy and second.healthy


async def test_a_master_killed_mid_run_loses_no_request_and_limits_hold_after(
    cluster: RedisCluster, conns: tuple[RedisConnection, RedisConnection]
) -> None:
    first, second = conns
    a, b = RedisLimits(first, MemoryLimits()), RedisLimits(second, MemoryLimits())
    tenant = "failover"
    bucket = first.key("limit", slot_tag(tenant), "req")
    generous = RateLimit(100000, None)
    answered = 0

    async def traffic(seconds: float) -> None:
        nonlocal answered
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while loop.time() < end:
            results = await asyncio.gather(
                a.acquire(tenant, generous, 0), b.acquire(tenant, generous, 0)
            )
            answered += sum(1 for r in results if r.allowed)
            await asyncio.sleep(0.01)

    background = asyncio.create_task(traffic(60.0))
    await asyncio.sleep(0.3)
    await asyncio.to_thread(cluster.kill_master_of, bucket)
    await asyncio.sleep(0.5)
    background.cancel()
    with pytest.raises(asyncio.CancelledError):
        await background
    assert answered > 0  # every call was answered: by the cluster, or by the fallback meanwhile

    # After the promotion, a fresh tenant on the same slot is limited exactly through Redis.
    for _ in range(50):  # the pause over, a probe succeeds and the slot map is refreshed
        probes = [await r.acquire("probe", generous, 0) for r in (a, b)]
        if all(p.allowed for p in probes) and first.healthy and second.healthy:
            break
        await asyncio.sleep(0.2)
    assert first.healthy and second.healthy
    exact = RateLimit(20, None)
    outcomes = await asyncio.gather(
        *(replica.acquire("after-" + tenant, exact, 0) for _ in range(15) for replica in (a, b))
    )
    assert sum(r.allowed for r in outcomes) == 20
    assert first.healthy and second.healthy
