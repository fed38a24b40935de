"""Tests: rate limits and budgets in Redis — exact across replicas, Lua-atomic."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from gateway.cache.redis_client import RedisConnection
from gateway.errors import QuotaExceededError, RateLimitError
from gateway.limits.backend import LimitResult
from gateway.limits.enforce import check_caller, check_limits
from gateway.limits.memory import MemoryLimits
from gateway.limits.redis_limits import RedisLimits
from gateway.routing.policy import RateLimit, Tenant


def limits(conn: RedisConnection) -> RedisLimits:
    return RedisLimits(conn, MemoryLimits())


async def test_burst_of_n_then_429(conn: RedisConnection) -> None:
    backend = limits(conn)
    limit = RateLimit(20, None)
    results = [await backend.acquire("t", limit, 0) for _ in range(21)]
    assert all(r.allowed for r in results[:20])
    refused = results[20]
    assert not refused.allowed and refused.which == "requests"
    assert refused.retry_after_s == pytest.approx(60 / 20, abs=0.05)


async def test_two_replicas_share_exactly_n(conn: RedisConnection, conn2: RedisConnection) -> None:
    a, b = limits(conn), limits(conn2)
    limit = RateLimit(50, None)
    outcomes = await asyncio.gather(
        *(replica.acquire("shared", limit, 0) for _ in range(40) for replica in (a, b))
    )
    assert sum(r.allowed for r in outcomes) == 50
    assert conn.healthy and conn2.healthy  # Redis answered: not the per-replica fallback


async def test_tokens_limit_and_settle(conn: RedisConnection) -> None:
    backend = limits(conn)
    limit = RateLimit(None, 6000)
    assert (await backend.acquire("t", limit, 5000)).allowed
    refused = await backend.acquire("t", limit, 2000)
    assert refused.which == "tokens" and not refused.allowed
    assert refused.retry_after_s == pytest.approx(10.0, abs=0.1)  # 1000 missing at 100/s
    await backend.settle_tokens("t", limit, estimated=5000, actual=1000)  # 4000 back
    assert (await backend.acquire("t", limit, 5000)).allowed
    await backend.settle_tokens("t", limit, estimated=0, actual=3000)  # into debt
    refused = await backend.acquire("t", limit, 1)
    assert not refused.allowed and refused.retry_after_s > 20


async def test_refusal_consumes_nothing(conn: RedisConnection) -> None:
    backend = limits(conn)
    limit = RateLimit(2, 100)
    assert (await backend.acquire("t", limit, 90)).allowed
    assert not (await backend.acquire("t", limit, 50)).allowed  # tokens short
    assert (await backend.acquire("t", limit, 10)).allowed  # the request was not taken
    assert (await backend.acquire("t", limit, 0)).which == "requests"


async def test_bucket_keys_have_ttls_and_tenant_tags(conn: RedisConnection, prefix: str) -> None:
    backend = limits(conn)
    await backend.acquire("acme", RateLimit(60, 1000), 10)
    keys = sorted([k.decode() async for k in conn.client.scan_iter(match=f"{prefix}*")])
    assert keys == [f"{prefix}limit:{{acme}}:req", f"{prefix}limit:{{acme}}:tok"]
    for key in keys:
        assert 0 < await conn.client.pttl(key) <= 2000  # one second of refill + 1 s


async def test_budget_and_retry_to_midnight(conn: RedisConnection, prefix: str) -> None:
    wall = dt.datetime(2024, 5, 17, 18, 0, tzinfo=dt.UTC).timestamp()
    backend = RedisLimits(conn, MemoryLimits(), wall=lambda: wall)
    first, hold = await backend.reserve_spend("t", 1.0, 0.75)
    assert first.allowed and hold is not None and not hold.local
    assert (await backend.reserve_spend("t", 1.0, 0.5))[0].allowed  # 0.75 < 1: admitted
    assert await backend.reserve_spend("t", 1.0, 0.1) == (LimitResult(False, 6 * 3600.0), None)
    key = f"{prefix}spend:{{t}}:2024-05-17"
    assert float(await conn.client.get(key) or 0) == pytest.approx(1.25)
    await backend.settle_spend(hold, 0.25)  # really cost 0.25: 0.5 back
    assert float(await conn.client.get(key) or 0) == pytest.approx(0.75)
    assert 86400 < await conn.client.ttl(key) <= 2 * 86400 + 3600


async def test_check_limits_on_redis(conn: RedisConnection, conn2: RedisConnection) -> None:
    tenant = Tenant("kids-app", frozenset(), None, 1, RateLimit(3, None), 5.0)
    a, b = limits(conn), limits(conn2)
    for backend in (a, b, a):
        await check_caller(backend, tenant)
        await check_limits(backend, tenant, 10)
    with pytest.raises(RateLimitError, match="'kids-app': 3 requests per minute") as info:
        await check_caller(b, tenant)
    assert info.value.retry_after == pytest.approx(20, abs=0.1)
    budget_only = Tenant("kids-app", frozenset(), None, 1, None, 5.0)
    hold = await check_limits(a, budget_only, 10, reserve_usd=5.0)
    with pytest.raises(QuotaExceededError):
        await check_caller(b, tenant)
    with pytest.raises(QuotaExceededError):
        await check_limits(b, tenant, 10)
    assert hold is not None
    await a.settle_spend(hold, 1.0)
    assert await check_limits(b, budget_only, 10, reserve_usd=0.5) is not None


async def test_scripts_survive_script_flush(conn: RedisConnection) -> None:
    backend = limits(conn)
    assert (await backend.acquire("t", RateLimit(5, None), 0)).allowed
    await conn.client.script_flush()
    assert (await backend.acquire("t", RateLimit(5, None), 0)).allowed  # EVALSHA reloads
    assert conn.healthy


async def test_concurrent_reservations_on_two_replicas_overshoot_by_one_at_most(
    conn: RedisConnection, conn2: RedisConnection
) -> None:
    a, b = limits(conn), limits(conn2)
    outcomes = await asyncio.gather(
        *(replica.reserve_spend("burst", 1.0, 0.3) for _ in range(20) for replica in (a, b))
    )
    assert sum(result.allowed for result, _ in outcomes) == 4  # 0, 0.3, 0.6, 0.9 < 1
    assert conn.healthy and conn2.healthy


@pytest.mark.parametrize("garbage", ["not-a-number", "inf", "nan"])
async def test_a_spend_counter_that_is_not_a_number_fails_open_from_the_last_seen_spend(
    conn: RedisConnection, prefix: str, garbage: str
) -> None:
    """The fallback continues from the spend Redis last showed, not from a fresh budget."""
    wall = dt.datetime(2024, 5, 17, 18, 0, tzinfo=dt.UTC).timestamp()
    backend = RedisLimits(conn, MemoryLimits(wall=lambda: wall), wall=lambda: wall)
    assert (await backend.reserve_spend("t", 1.0, 0.9))[0].allowed
    await conn.client.set(f"{prefix}spend:{{t}}:2024-05-17", garbage)
    allowed, hold = await backend.reserve_spend("t", 1.0, 0.2)  # Redis fails: memory, 0.9 seen
    assert allowed.allowed and hold is not None and hold.local and not conn.healthy
    conn._retry_at = 0.0  # the pause is over (each call probes Redis again)
    refused, _ = await backend.reserve_spend("t", 1.0, 0.01)
    assert not refused.allowed


async def test_spend_allowed_reads_reservations_and_fails_open_on_garbage(
    conn: RedisConnection, prefix: str
) -> None:
    wall = dt.datetime(2024, 5, 17, 18, 0, tzinfo=dt.UTC).timestamp()
    backend = RedisLimits(conn, MemoryLimits(wall=lambda: wall), wall=lambda: wall)
    assert (await backend.spend_allowed("t", 1.0)).allowed
    await backend.reserve_spend("t", 1.0, 1.0)
    assert await backend.spend_allowed("t", 1.0) == LimitResult(False, 6 * 3600.0)
    await conn.client.set(f"{prefix}spend:{{t}}:2024-05-17", "nan")
    assert not (await backend.spend_allowed("t", 1.0)).allowed  # memory: 1.0 seen
    assert not conn.healthy
