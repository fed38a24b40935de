"""Tests: single-flight across replicas — a short Redis lock, the others wait for the entry."""

from __future__ import annotations

import asyncio
import time

from gateway.cache.redis_cache import RedisCache
from gateway.cache.redis_client import RedisConnection
from gateway.cache.singleflight import RedisFlightLock, SingleFlight
from tests.support.redis_server import free_port


async def test_one_replica_calls_the_other_receives(
    conn: RedisConnection, conn2: RedisConnection
) -> None:
    lock_a, lock_b = RedisFlightLock(conn), RedisFlightLock(conn2)
    cache_a, cache_b = RedisCache(conn), RedisCache(conn2)
    assert await lock_a.acquire("v1:q", ttl_s=5)
    assert not await lock_b.acquire("v1:q", ttl_s=5)

    async def leader() -> None:
        await asyncio.sleep(0.1)  # the Bedrock call
        await cache_a.set("v1:q", b"the answer", 60)
        await lock_a.release("v1:q")

    started = time.monotonic()
    got, _ = await asyncio.gather(
        lock_b.wait_for("v1:q", lambda: cache_b.get("v1:q"), max_wait_s=5), leader()
    )
    assert got == b"the answer"
    assert time.monotonic() - started < 1.0
    assert not await conn.client.exists(conn.key("flight", "v1:q"))


async def test_lock_expiry_sends_the_waiter_upstream(
    conn: RedisConnection, conn2: RedisConnection
) -> None:
    lock_a, lock_b = RedisFlightLock(conn), RedisFlightLock(conn2)
    cache_b = RedisCache(conn2)
    assert await lock_a.acquire("v1:dead", ttl_s=0.2)  # the leader dies without storing
    started = time.monotonic()
    got = await lock_b.wait_for("v1:dead", lambda: cache_b.get("v1:dead"), max_wait_s=5)
    waited = time.monotonic() - started
    assert got is None and 0.1 < waited < 0.6
    assert await lock_b.acquire("v1:dead", ttl_s=1)  # now free for the waiter


async def test_wait_is_bounded(conn: RedisConnection, conn2: RedisConnection) -> None:
    assert await RedisFlightLock(conn).acquire("v1:slow", ttl_s=10)
    started = time.monotonic()
    got = await RedisFlightLock(conn2).wait_for(
        "v1:slow", lambda: RedisCache(conn2).get("v1:slow"), max_wait_s=0.2
    )
    assert got is None and time.monotonic() - started < 0.5


async def test_release_never_deletes_anothers_lock(
    conn: RedisConnection, conn2: RedisConnection
) -> None:
    lock_a, lock_b = RedisFlightLock(conn), RedisFlightLock(conn2)
    assert await lock_a.acquire("v1:k", ttl_s=0.05)
    await asyncio.sleep(0.1)  # expired; B takes it
    assert await lock_b.acquire("v1:k", ttl_s=5)
    await lock_a.release("v1:k")  # A's late release: a no-op
    assert await conn.client.exists(conn.key("flight", "v1:k"))
    await lock_b.release("v1:k")
    assert not await conn.client.exists(conn.key("flight", "v1:k"))


async def test_without_redis_everyone_goes() -> None:
    conn = RedisConnection.from_url(f"redis://127.0.0.1:{free_port()}/0", timeout_s=0.2)
    try:
        lock = RedisFlightLock(conn)
        assert await lock.acquire("v1:k", ttl_s=5)
        cache = RedisCache(conn)
        assert await lock.wait_for("v1:k", lambda: cache.get("v1:k"), max_wait_s=5) is None
        await lock.release("v1:k")
    finally:
        await conn.close()


async def test_both_layers_together(conn: RedisConnection, conn2: RedisConnection) -> None:
    """Two replicas x four concurrent identical misses: one upstream call in all."""
    calls = 0

    async def replica(c: RedisConnection, flight: SingleFlight) -> list[bytes | None]:
        lock, cache = RedisFlightLock(c), RedisCache(c)

        async def miss() -> bytes | None:
            nonlocal calls
            if not await lock.acquire("v1:both", ttl_s=5):
                return await lock.wait_for("v1:both", lambda: cache.get("v1:both"), max_wait_s=5)
            try:
                calls += 1
                await asyncio.sleep(0.1)
                await cache.set("v1:both", b"one answer", 60)
                return b"one answer"
            finally:
                await lock.release("v1:both")

        results = await asyncio.gather(*(flight.run("v1:both", miss) for _ in range(4)))
        return [value for value, _ in results]

    a, b = await asyncio.gather(replica(conn, SingleFlight()), replica(conn2, SingleFlight()))
    assert calls == 1
    assert a + b == [b"one answer"] * 8
