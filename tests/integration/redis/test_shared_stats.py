"""Tests: latency estimates and open circuits shared between replicas through Redis."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from gateway.cache.redis_client import RedisConnection
from gateway.cache.shared_stats import SharedStats
from gateway.routing.stats import LocalStats


def _open_circuit(stats: LocalStats, model: str) -> None:
    for _ in range(5):
        stats.record_failure(model, retryable=True)


async def test_circuit_opened_on_a_is_seen_on_b(
    conn: RedisConnection, conn2: RedisConnection
) -> None:
    local_a, local_b = LocalStats(cooldown_s=30), LocalStats(cooldown_s=30)
    a, b = SharedStats(local_a, conn), SharedStats(local_b, conn2)
    _open_circuit(local_a, "claude-3-haiku")
    assert not local_a.is_available("claude-3-haiku")
    assert local_b.is_available("claude-3-haiku")
    assert await a.sync_once() and await b.sync_once()
    assert local_b.state("claude-3-haiku") == "open"
    assert not local_b.is_available("claude-3-haiku")
    assert local_b.is_available("llama3-8b")


async def test_closed_circuit_is_withdrawn(conn: RedisConnection, conn2: RedisConnection) -> None:
    local_a = LocalStats(cooldown_s=0.05)
    a = SharedStats(local_a, conn)
    _open_circuit(local_a, "m")
    await a.sync_once()
    assert await conn.client.hlen(conn.key("stats", "circuits")) == 1
    await asyncio.sleep(0.06)
    assert local_a.is_available("m")  # the probe
    local_a.record_success("m", latency_ms=100)
    await a.sync_once()
    assert await conn.client.hlen(conn.key("stats", "circuits")) == 0
    local_b = LocalStats(cooldown_s=30)
    await SharedStats(local_b, conn2).sync_once()
    assert local_b.state("m") == "closed"


async def test_latency_on_a_moves_b(conn: RedisConnection, conn2: RedisConnection) -> None:
    local_a, local_b = LocalStats(), LocalStats()
    a, b = SharedStats(local_a, conn), SharedStats(local_b, conn2)
    local_b.record_success("m", latency_ms=1000)
    await b.sync_once()
    await asyncio.sleep(0.01)
    local_a.record_success("m", latency_ms=200, ttft_ms=50)
    await a.sync_once()
    await b.sync_once()
    assert local_b.latency_ms("m", stream=False) == pytest.approx(600)  # averaged with ours
    assert local_b.latency_ms("m", stream=True) == pytest.approx(50)  # taken: we had none
    for _ in range(3):  # the same remote observation is merged only once
        await b.sync_once()
    assert local_b.latency_ms("m", stream=False) == pytest.approx(600)
    assert local_a.latency_ms("m", stream=False) == pytest.approx(200)  # B's was older


async def test_one_round_trip_per_sync_and_ttls(conn: RedisConnection, prefix: str) -> None:
    local = LocalStats()
    shared = SharedStats(local, conn, replica_id="r1")
    local.record_success("m", latency_ms=100)
    _open_circuit(local, "bad")
    calls = 0
    original = conn.run

    async def counting(op, fn):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        return await original(op, fn)

    conn.run = counting  # type: ignore[method-assign]
    assert await shared.sync_once()
    assert calls == 1
    raw = await conn.client.hgetall(f"{prefix}stats:latency")
    entry = orjson.loads(raw[b"r1|m"])
    assert entry["m"] == "m" and entry["n"] == 1 and entry["total_ms"] == 100
    for key in ("stats:latency", "stats:circuits"):
        assert await conn.client.ttl(prefix + key) > 0


async def test_stale_and_garbage_entries_are_dropped(conn: RedisConnection) -> None:
    key = conn.key("stats", "latency")
    await conn.client.hset(key, mapping={"x|m": b"not json", "old|m": orjson.dumps(
        {"m": "m", "r": "old", "total_ms": 5.0, "total_at": 1.0, "ttft_ms": None,
         "ttft_at": None, "n": 1})})  # fmt: skip
    await conn.client.expire(key, 60)
    local = LocalStats()
    shared = SharedStats(local, conn)
    await shared.sync_once()
    assert local.latency_ms("m", stream=False) is None
    await shared.sync_once()  # the next push deletes what the last pull found stale
    assert await conn.client.hlen(key) == 0


async def test_background_task_syncs_within_an_interval(
    conn: RedisConnection, conn2: RedisConnection
) -> None:
    local_a, local_b = LocalStats(), LocalStats()
    a = SharedStats(local_a, conn, interval_s=0.05)
    b = SharedStats(local_b, conn2, interval_s=0.05)
    a.start()
    b.start()
    try:
        _open_circuit(local_a, "m")
        for _ in range(40):
            await asyncio.sleep(0.025)
            if local_b.state("m") == "open":
                break
        assert local_b.state("m") == "open"
    finally:
        await a.stop()
        await b.stop()
