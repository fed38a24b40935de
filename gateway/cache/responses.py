"""Cache: stored Responses (``store: true``) for ``previous_response_id`` and ``GET``/``DELETE``.

Each entry is the response object, its own input items, and the whole conversation up to and
including its output (what a continuation replays), compressed with zlib. The key holds a
hash of the tenant, so another tenant's lookup misses (a 404, as for an unknown id). In Redis
(shared by every replica) under ``<prefix>resp:<tenant hash>:<id>`` with the configured TTL;
without Redis in a bounded in-memory LRU. Redis failing reads as "not found".
"""

from __future__ import annotations

import hashlib
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from gateway.cache.store import MemoryCache

if TYPE_CHECKING:
    from gateway.cache.redis_client import RedisConnection

MAX_STORED_BYTES = 4 * 1024 * 1024  # compressed; a larger response is answered, not stored
_FORMAT = 1


@dataclass(frozen=True)
class StoredResponse:
    response: dict[str, Any]
    input_items: list[dict[str, Any]]
    conversation: list[dict[str, Any]]


class _Bytes(Protocol):
    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, ttl_s: int) -> None: ...

    async def delete(self, key: str) -> bool: ...


class RedisBytes:
    """Bytes under ``<prefix>resp:``; a failed call is a miss or a no-op."""

    def __init__(self, conn: RedisConnection) -> None:
        self._conn = conn

    async def get(self, key: str) -> bytes | None:
        name = self._conn.key("resp", key)
        value = await self._conn.run("responses_get", lambda r: r.get(name))
        return value if isinstance(value, bytes) else None

    async def set(self, key: str, value: bytes, ttl_s: int) -> None:
        name = self._conn.key("resp", key)
        await self._conn.run("responses_set", lambda r: r.set(name, value, ex=int(ttl_s)))

    async def delete(self, key: str) -> bool:
        name = self._conn.key("resp", key)
        removed = await self._conn.run("responses_delete", lambda r: r.delete(name))
        return bool(removed)


class ResponseStore:
    """Tenant-scoped stored responses over a bytes store (memory or Redis)."""

    def __init__(self, backend: _Bytes, ttl_s: int) -> None:
        self._backend = backend
        self._ttl_s = ttl_s

    @classmethod
    def in_memory(
        cls,
        ttl_s: int,
        max_bytes: int = 64 * 1024 * 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> ResponseStore:
        return cls(MemoryCache(max_bytes=max_bytes, clock=clock), ttl_s)

    @classmethod
    def in_redis(cls, conn: RedisConnection, ttl_s: int) -> ResponseStore:
        return cls(RedisBytes(conn), ttl_s)

    @staticmethod
    def _key(tenant: str, response_id: str) -> str:
        return hashlib.sha256(tenant.encode()).hexdigest()[:24] + ":" + response_id

    async def put(self, tenant: str, stored: StoredResponse) -> None:
        raw = orjson.dumps(
            {
                "f": _FORMAT,
                "response": stored.response,
                "input": stored.input_items,
                "conversation": stored.conversation,
            }
        )
        packed = _compress(raw)
        if len(packed) <= MAX_STORED_BYTES:
            key = self._key(tenant, stored.response["id"])
            await self._backend.set(key, packed, self._ttl_s)

    async def get(self, tenant: str, response_id: str) -> StoredResponse | None:
        packed = await self._backend.get(self._key(tenant, response_id))
        if packed is None:
            return None
        try:
            data = orjson.loads(zlib.decompress(packed))
        except (zlib.error, orjson.JSONDecodeError):
            return None
        if not isinstance(data, dict) or data.get("f") != _FORMAT:
            return None
        return StoredResponse(data["response"], data["input"], data["conversation"])

    async def delete(self, tenant: str, response_id: str) -> bool:
        return await self._backend.delete(self._key(tenant, response_id))


def _compress(raw: bytes) -> bytes:
    """zlib at level 3 with the smallest hash table (memLevel 1): a response of a few KB
    compresses in a third of the default set-up time (most of a small call is that set-up),
    large ones about as well; the stream is plain zlib, read by ``zlib.decompress``."""
    compressor = zlib.compressobj(3, zlib.DEFLATED, zlib.MAX_WBITS, 1)
    return compressor.compress(raw) + compressor.flush()
