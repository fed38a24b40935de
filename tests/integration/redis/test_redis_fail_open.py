"""Tests: Redis killed or hung mid-run — prompt answers, counted errors, one warning, recovery."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from gateway.cache.redis_cache import RedisCache
from gateway.cache.redis_client import RedisConnection
from gateway.cache.shared_stats import SharedStats
from gateway.cache.singleflight import RedisFlightLock
from gateway.limits.backend import SpendHold
from gateway.limits.memory import MemoryLimits
from gateway.limits.redis_limits import RedisLimits
from gateway.routing.policy import RateLimit
from gateway.routing.stats import LocalStats
from tests.support.redis_server import RedisServer

TIMEOUT_S = 0.2
PAUSE_S = 0.4
MARGIN_S = 1.0  # generous: proves "bounded by the timeout, never a hang" on a loaded machine


@dataclass
class Replica:
    conn: RedisConnection
    cache: RedisCache
    limits: RedisLimits
    lock: RedisFlightLock
    shared: SharedStats
    errors: Counter[str]


@pytest.fixture
async def replica(own_redis: RedisServer) -> AsyncIterator[Replica]:
    errors: Counter[str] = Counter()
    conn = RedisConnection.from_url(
        own_redis.url, timeout_s=TIMEOUT_S, pause_s=PAUSE_S, on_error=lambda op: errors.update([op])
    )
    yield Replica(
        conn,
        RedisCache(conn),
        RedisLimits(conn, MemoryLimits()),
        RedisFlightLock(conn),
        SharedStats(LocalStats(), conn),
        errors,
    )
    await conn.close()


def _calls(r: Replica) -> list[Callable[[], Awaitable[Any]]]:
    limit = RateLimit(1000, 100000)
    return [
        lambda: r.cache.get("v1:k"),
        lambda: r.cache.set("v1:k", b"v", 60),
        lambda: r.limits.acquire("t", limit, 10),
        lambda: r.limits.settle_tokens("t", limit, 10, 20),
        lambda: r.limits.reserve_spend("t", 10.0, 0.01),
        lambda: r.limits.settle_spend(SpendHold("t", "2024-05-17", 0.01), 0.02),
        lambda: r.lock.acquire("v1:k", 1.0),
        lambda: r.lock.wait_for("v1:k", lambda: r.cache.get("v1:k"), max_wait_s=1.0),
        r.shared.sync_once,
        r.conn.ping,
    ]


async def _timed(call: Callable[[], Awaitable[Any]]) -> float:
    started = time.monotonic()
    await call()
    return time.monotonic() - started


def _warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "gateway.redis" and r.levelno >= logging.WARNING]


async def _connected(r: Replica, caplog: pytest.LogCaptureFixture | None = None) -> None:
    """The first connection made (a loaded machine may take longer than the 0.2 s timeout
    to open it), and what that cost forgotten, so the test counts only its own outage."""
    for _ in range(20):
        if await r.conn.ping():
            break
        await asyncio.sleep(PAUSE_S + 0.05)
    else:
        raise AssertionError("redis did not answer")
    r.errors.clear()
    if caplog is not None:
        caplog.clear()


async def _wait_recovered(r: Replica) -> None:
    await asyncio.sleep(PAUSE_S + 0.05)
    for _ in range(20):  # the probe succeeds at once unless the restart is still settling
        if await r.conn.ping():
            return
        await asyncio.sleep(PAUSE_S + 0.05)
    raise AssertionError("redis connection did not recover")


async def test_killed_then_restarted(
    own_redis: RedisServer, replica: Replica, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.redis")
    r = replica
    await r.cache.set("v1:k", b"cached", 60)
    assert await r.cache.get("v1:k") == b"cached" and r.conn.healthy

    own_redis.stop()
    durations = [await _timed(call) for _ in range(5) for call in _calls(r)]
    assert max(durations) < TIMEOUT_S + MARGIN_S, durations
    assert sum(r.errors.values()) == 1  # then paused: nothing more is even tried
    assert len(_warnings(caplog)) == 1
    assert r.conn.state == "degraded" and not r.cache.available()
    assert await r.cache.get("v1:k") is None

    # limits fall back to this replica's memory: exact per replica
    limit = RateLimit(3, None)
    results = [await r.limits.acquire("fallback", limit, 0) for _ in range(4)]
    assert [x.allowed for x in results] == [True, True, True, False]

    # the pause over, one call probes: it fails fast, is counted, and logs nothing more
    await asyncio.sleep(PAUSE_S + 0.05)
    assert r.cache.available()  # a lookup may probe
    probes = [r.cache.get("v1:k") for _ in range(10)]
    assert await _timed(lambda: asyncio.gather(*probes)) < TIMEOUT_S + MARGIN_S
    assert sum(r.errors.values()) == 2  # one probe, not ten
    assert len(_warnings(caplog)) == 1

    own_redis.restart()
    await _wait_recovered(r)
    assert r.conn.healthy and r.cache.available()
    recovered = [x for x in caplog.records if "available again" in x.getMessage()]
    assert len(recovered) == 1
    await r.cache.set("v1:k", b"again", 60)
    assert await r.cache.get("v1:k") == b"again"
    assert (await r.limits.acquire("t", RateLimit(1, None), 0)).allowed
    assert not (await r.limits.acquire("t", RateLimit(1, None), 0)).allowed

    own_redis.stop()  # a second episode: a second warning
    for call in _calls(r):
        await call()
    assert len(_warnings(caplog)) == 2


async def test_hung_redis_times_out(
    own_redis: RedisServer, replica: Replica, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.redis")
    r = replica
    await _connected(r, caplog)
    own_redis.freeze()
    try:
        first = await _timed(lambda: r.cache.get("v1:k"))
        assert TIMEOUT_S - 0.05 < first < TIMEOUT_S + MARGIN_S
        rest = [await _timed(call) for call in _calls(r)]
        assert max(rest) < 0.02  # paused: answered without waiting on Redis
        assert r.errors == Counter({"cache_get": 1})
        assert len(_warnings(caplog)) == 1
    finally:
        own_redis.thaw()
    await _wait_recovered(r)
    await r.cache.set("v1:k", b"v", 60)
    assert await r.cache.get("v1:k") == b"v"


async def test_concurrent_calls_during_an_outage_are_bounded(
    own_redis: RedisServer, replica: Replica
) -> None:
    r = replica
    await _connected(r)
    own_redis.freeze()
    try:
        started = time.monotonic()
        await asyncio.gather(*(call() for _ in range(20) for call in _calls(r)))
        # Bounded by one timeout plus scheduling delay on a loaded 2-core machine, not by the
        # sum of the 20 x calls timeouts (which would take well over 10 s).
        assert time.monotonic() - started < TIMEOUT_S + MARGIN_S
    finally:
        own_redis.thaw()
