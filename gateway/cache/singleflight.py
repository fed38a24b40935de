"""Cache: single-flight — identical concurrent misses make one upstream call.

``SingleFlight`` joins callers within a process: the first runs the call (as its own task),
the others await the same task. ``RedisFlightLock`` joins replicas: the replica that takes a
short lock calls upstream; the others poll for the cached entry until the lock is released or
expires, or the request's own deadline is near, then go upstream themselves. Without Redis,
or when the lock's name holds anything but a string with a TTL (a key no lock of ours can
be: a Redis failure), every replica just goes (fail open).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:  # the in-process SingleFlight must not load the Redis client
    from redis.asyncio import Redis

    from gateway.cache.redis_client import RedisConnection

T = TypeVar("T")


@dataclass
class _Flight(Generic[T]):
    task: asyncio.Task[T]
    waiters: int = 0


class SingleFlight:
    """``run(key, fn)`` is ``(result, True)`` for the caller that ran ``fn`` and
    ``(result, False)`` for those who joined it. An exception reaches every caller.

    ``fn`` runs in a task of its own: cancelling any one caller (a client that went away)
    leaves the call running for the others; only when every caller is gone is it cancelled.
    """

    def __init__(self) -> None:
        self._flights: dict[str, _Flight[Any]] = {}

    def __len__(self) -> int:
        return len(self._flights)

    async def run(self, key: str, fn: Callable[[], Awaitable[T]]) -> tuple[T, bool]:
        flight: _Flight[T] | None = self._flights.get(key)
        leader = flight is None
        if flight is None:

            async def call() -> T:
                return await fn()

            flight = _Flight(asyncio.create_task(call()))
            self._flights[key] = flight
            flight.task.add_done_callback(lambda task: self._forget(key, task))
        flight.waiters += 1
        try:
            result = await asyncio.shield(flight.task)
        except asyncio.CancelledError:
            flight.waiters -= 1
            if flight.waiters == 0 and not flight.task.done():
                flight.task.cancel()
            raise
        flight.waiters -= 1
        return result, leader

    def _forget(self, key: str, task: asyncio.Task[Any]) -> None:
        current = self._flights.get(key)
        if current is not None and current.task is task:
            del self._flights[key]
        if not task.cancelled():
            task.exception()  # retrieved here too, so an unawaited failure is never logged


class RedisFlightLock:
    """A short lock per cache key across replicas: ``<prefix>flight:<key>``, SET NX PX."""

    _RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

    def __init__(self, conn: RedisConnection) -> None:
        self._conn = conn
        self._tokens: dict[str, str] = {}
        self._release = conn.client.register_script(self._RELEASE_LUA)

    def _key(self, key: str) -> str:
        return self._conn.key("flight", key)

    async def acquire(self, key: str, ttl_s: float) -> bool:
        """True: this replica calls upstream (also when Redis failed). False: another holds it."""
        name, token, ttl_ms = self._key(key), secrets.token_hex(16), max(1, int(ttl_s * 1000))

        async def take(r: Redis) -> bool:
            return bool(await r.set(name, token, nx=True, px=ttl_ms))

        got = await self._conn.run("flight_acquire", take)
        if got is None:
            return True
        if got:
            self._tokens[key] = token
        return got

    async def release(self, key: str) -> None:
        """Delete the lock if it is still ours (compare-and-delete, so never another's)."""
        token = self._tokens.pop(key, None)
        if token is None:
            return
        keys, args = [self._key(key)], [token]
        await self._conn.run("flight_release", lambda r: self._release(keys, args, client=r))

    async def wait_for(
        self,
        key: str,
        fetch: Callable[[], Awaitable[bytes | None]],
        *,
        max_wait_s: float,
        poll_s: float = 0.02,
    ) -> bytes | None:
        """The entry once ``fetch`` finds it; None (go upstream yourself) when the lock is gone
        without an entry, Redis fails, or ``max_wait_s`` passes."""
        name = self._key(key)
        deadline = time.monotonic() + max_wait_s
        while True:
            held = await self._conn.run("flight_wait", lambda r: _held(r, name))
            value = await fetch()
            if value is not None:
                return value
            if not held or time.monotonic() + poll_s > deadline:
                return None
            await asyncio.sleep(poll_s)


async def _held(r: Redis, name: str) -> bool:
    """True while our kind of lock is there: a string that expires. Anything else under the
    name (another type, a key without a TTL) is an unexpected reply, so nobody waits on it."""
    from gateway.cache.redis_client import expect  # only with Redis configured

    async with r.pipeline(transaction=False) as pipe:
        pipe.type(name)
        pipe.pttl(name)
        kind, ttl_ms = await pipe.execute()
    expect(isinstance(kind, bytes) and isinstance(ttl_ms, int), "TYPE and PTTL replies")
    if kind == b"none":
        return False
    expect(kind == b"string" and ttl_ms > 0, "a lock: a string with a TTL")
    return True
