"""Cache: the response cache in Redis, shared by every replica (``ResponseCache``, kind redis).

Values arrive compressed and size-capped from ``cache/answers.py``; keys arrive versioned and
tenant-hashed from ``cache/keys.py``. Stored under ``<prefix>cache:<key>``, always with a TTL.
A failed call is a miss (get) or a no-op (set); ``RedisConnection`` counts and logs it. A reply
that is not bytes (or nil) is such a failure too.
"""

from __future__ import annotations

from redis.asyncio import Redis

from gateway.cache.answers import MAX_ENTRY_BYTES
from gateway.cache.redis_client import RedisConnection, expect


class RedisCache:
    kind = "redis"

    def __init__(self, conn: RedisConnection, *, max_entry_bytes: int = MAX_ENTRY_BYTES) -> None:
        self._conn = conn
        self._max_entry_bytes = max_entry_bytes

    def _key(self, key: str) -> str:
        return self._conn.key("cache", key)

    async def get(self, key: str) -> bytes | None:
        name = self._key(key)

        async def get(r: Redis) -> bytes | None:
            value = await r.get(name)
            if value is not None and not isinstance(value, bytes):
                expect(False, "a bulk string or nil")
            return value if isinstance(value, bytes) else None

        return await self._conn.run("cache_get", get)

    async def set(self, key: str, value: bytes, ttl_s: int) -> None:
        if len(value) > self._max_entry_bytes or ttl_s <= 0:
            return
        name = self._key(key)
        await self._conn.run("cache_set", lambda r: r.set(name, value, ex=int(ttl_s)))

    def available(self) -> bool:
        """False while Redis is failing (callers then answer uncached, ``x-gateway-cache: off``);
        True again once the pause is over so that a lookup can probe."""
        return self._conn.usable
