"""Cache: the byte store interface every response cache implements, and the in-memory one."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol


class ResponseCache(Protocol):
    """Where cached answers live. ``kind`` is ``memory``, ``redis`` or ``off``."""

    kind: str

    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, ttl_s: int) -> None: ...

    def available(self) -> bool: ...


class NoCache:
    """Caching disabled: every lookup misses, nothing is stored."""

    kind = "off"

    async def get(self, key: str) -> bytes | None:
        return None

    async def set(self, key: str, value: bytes, ttl_s: int) -> None:
        return None

    def available(self) -> bool:
        return False


class MemoryCache:
    """A bounded LRU of bytes with per-entry expiry, for one replica without Redis."""

    kind = "memory"

    def __init__(
        self, *, max_bytes: int = 64 * 1024 * 1024, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._size = 0
        self._max_bytes = max_bytes
        self._clock = clock

    async def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, value = entry
        if expires <= self._clock():
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return value

    async def set(self, key: str, value: bytes, ttl_s: int) -> None:
        if len(value) > self._max_bytes // 4:
            return
        if key in self._entries:
            self._drop(key)
        self._entries[key] = (self._clock() + ttl_s, value)
        self._size += len(value)
        while self._size > self._max_bytes and self._entries:
            self._drop(next(iter(self._entries)))

    def available(self) -> bool:
        return True

    async def delete(self, key: str) -> bool:
        """True when a live entry was removed."""
        found = await self.get(key) is not None
        if found:
            self._drop(key)
        return found

    def _drop(self, key: str) -> None:
        _, value = self._entries.pop(key)
        self._size -= len(value)
