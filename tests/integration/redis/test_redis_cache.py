"""Tests: the Redis response cache and connection on a real redis-server."""

from __future__ import annotations

import asyncio
import ssl
from collections import Counter

from redis.asyncio.connection import SSLConnection

from gateway.cache.keys import KEY_VERSION, cache_key
from gateway.cache.redis_cache import RedisCache
from gateway.cache.redis_client import RedisConnection
from gateway.cache.store import ResponseCache
from gateway.schemas.chat import ChatCompletionRequest
from tests.support.redis_server import free_port, running_redis


def _request() -> ChatCompletionRequest:
    return ChatCompletionRequest.model_validate(
        {"model": "cheap", "messages": [{"role": "user", "content": "hi"}], "temperature": 0}
    )


async def test_bytes_round_trip_with_ttl(conn: RedisConnection, prefix: str) -> None:
    cache: ResponseCache = RedisCache(conn)
    assert cache.kind == "redis" and cache.available()
    value = bytes(range(256)) * 10  # compressed upstream: arbitrary bytes must survive
    await cache.set("v1:abc", value, 60)
    assert await cache.get("v1:abc") == value
    assert await cache.get("v1:missing") is None
    ttl = await conn.client.ttl(f"{prefix}cache:v1:abc")
    assert 0 < ttl <= 60


async def test_keys_are_tenant_hashed_and_versioned(conn: RedisConnection, prefix: str) -> None:
    cache = RedisCache(conn)
    ka, kb = cache_key("tenant-a", _request()), cache_key("tenant-b", _request())
    assert ka != kb and ka.startswith(f"{KEY_VERSION}:")
    await cache.set(ka, b"answer for a", 30)
    assert await cache.get(kb) is None
    assert await cache.get(ka) == b"answer for a"
    keys = [k async for k in conn.client.scan_iter(match=f"{prefix}*")]
    assert keys == [f"{prefix}cache:{ka}".encode()]


async def test_entry_expires(conn: RedisConnection) -> None:
    cache = RedisCache(conn)
    await cache.set("v1:short", b"x", 1)
    await conn.client.pexpire(conn.key("cache", "v1:short"), 50)
    await asyncio.sleep(0.1)
    assert await cache.get("v1:short") is None


async def test_oversized_or_ttl_less_entries_are_not_stored(conn: RedisConnection) -> None:
    cache = RedisCache(conn, max_entry_bytes=100)
    await cache.set("v1:big", b"x" * 101, 60)
    await cache.set("v1:nottl", b"x", 0)
    assert await cache.get("v1:big") is None
    assert await cache.get("v1:nottl") is None


async def test_password_and_database_from_the_url() -> None:
    with running_redis(password="s3cret") as server:
        errors: Counter[str] = Counter()
        conn = RedisConnection.from_url(
            server.url_for_db(3), timeout_s=0.5, on_error=lambda op: errors.update([op])
        )
        try:
            assert await conn.ping()
            await RedisCache(conn).set("v1:k", b"v", 30)
            assert b"db3:keys=1" in server.command("INFO", "keyspace")
        finally:
            await conn.close()
        wrong = RedisConnection.from_url(
            f"redis://:nope@127.0.0.1:{server.port}/0", timeout_s=0.5,
            on_error=lambda op: errors.update([op]),
        )  # fmt: skip
        try:
            assert not await wrong.ping()
            assert errors == Counter({"ping": 1}) and wrong.state == "degraded"
        finally:
            await wrong.close()


def test_rediss_url_uses_tls() -> None:
    conn = RedisConnection.from_url(
        "rediss://:pw@cache.example.internal:6380/2?ssl_cert_reqs=required", timeout_s=0.2
    )
    pool = conn.client.connection_pool
    assert pool.connection_class is SSLConnection
    kwargs = pool.connection_kwargs
    assert kwargs["password"] == "pw" and kwargs["db"] == 2 and kwargs["port"] == 6380
    assert kwargs["socket_timeout"] == 0.2 and kwargs["socket_connect_timeout"] == 0.2
    assert kwargs.get("ssl_cert_reqs", "required") in ("required", ssl.CERT_REQUIRED)


def test_key_layout() -> None:
    conn = RedisConnection.from_url("redis://127.0.0.1:1/0", timeout_s=0.1)
    assert conn.key("cache", "v1:ab") == "gw:cache:v1:ab"
    assert conn.state == "ok" and conn.healthy


async def test_unreachable_redis_is_a_miss() -> None:
    errors: Counter[str] = Counter()
    conn = RedisConnection.from_url(
        f"redis://127.0.0.1:{free_port()}/0", timeout_s=0.2, on_error=lambda o: errors.update([o])
    )
    cache = RedisCache(conn)
    try:
        assert await cache.get("v1:x") is None
        assert errors == Counter({"cache_get": 1})
        assert not cache.available() and conn.state == "degraded"
    finally:
        await conn.close()
