"""Tests: every key any component writes carries the common prefix and a TTL."""

from __future__ import annotations

from gateway.cache.redis_cache import RedisCache
from gateway.cache.redis_client import RedisConnection
from gateway.cache.shared_stats import SharedStats
from gateway.cache.singleflight import RedisFlightLock
from gateway.limits.memory import MemoryLimits
from gateway.limits.redis_limits import RedisLimits
from gateway.routing.policy import RateLimit
from gateway.routing.stats import LocalStats


async def test_every_key_has_a_ttl(conn: RedisConnection, prefix: str) -> None:
    await RedisCache(conn).set("v1:abc", b"entry", 3600)
    await RedisFlightLock(conn).acquire("v1:abc", ttl_s=30)
    backend = RedisLimits(conn, MemoryLimits())
    await backend.acquire("acme", RateLimit(600, 200000), 1000)
    await backend.settle_tokens("acme", RateLimit(600, 200000), 1000, 1500)
    _, hold = await backend.reserve_spend("acme", 1.0, 0.25)
    assert hold is not None
    await backend.settle_spend(hold, 0.5)
    stats = LocalStats()
    stats.record_success("m", latency_ms=120, ttft_ms=40)
    for _ in range(5):
        stats.record_failure("bad", retryable=True)
    await SharedStats(stats, conn).sync_once()

    keys = sorted([k.decode() async for k in conn.client.scan_iter(match="*")])
    mine = [k for k in keys if k.startswith(prefix)]
    kinds = {k[len(prefix) :].split(":", 1)[0] for k in mine}
    assert kinds == {"cache", "flight", "limit", "spend", "stats"}
    assert len(mine) == 7, mine
    for key in mine:
        assert await conn.client.ttl(key) > 0, key
