"""Cache: the response cache in Redis, shared by every replica (``ResponseCache``, kind redis).

Values arrive compressed and size-capped from ``cache/answers.py``; keys arrive versioned and
tenant-hashed from ``cache/keys.py``. Stored under ``<prefix>cache:<key>``, always with a TTL.
A failed call is a miss (get) or a no-op (set); ``RedisConnection`` counts and logs it.
"""

from __future__ import annotations

from gateway.cache.answers import MAX_ENTRY_BYTES
from gateway.cache.redis_client import RedisConnection


class RedisCache:
    kind = "redis"

    def __init__(self, conn: RedisConnection, *, max_entry_bytes: int = MAX_ENTRY_BYTES) -> None:
        self._conn = conn
        self._max_entry_bytes = max_entry_bytes

    def _key(self, key: str) -> str:
        return self._conn.key("cache", key)

    async def get(self, key: str) -> bytes | None:
        name = self._key(key)
        value = await self._conn.run("cache_get", lambda r: r.get(name))
        return value if isinstance(value, bytes) else None

    async def set(self, key: str, value: bytes, ttl_s: int) -> None:
        if len(value) > self._max_entry_bytes or ttl_s <= 0:
            return
        name = self._key(key)
        await self._conn.run("cache_set", lambda r: r.set(name, value, ex=int(ttl_s)))

    def available(self) -> bool:
        """False while Redis is failing (callers then answer uncached, ``x-gateway-cache: off``);
        True again once the pause is over so that a lookup can probe."""
        return self._conn.usable
