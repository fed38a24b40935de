"""Cache: the one Redis connection (pool, short timeouts, fail open with a pause after errors).

Every Redis call of the gateway goes through ``RedisConnection.run``: it is bounded by
``timeout_s`` (hard: the caller never waits on the clean-up of a call that timed out); any
Redis, socket or timeout error, and any reply of a type, shape or value the call did not
expect (a key of the wrong type under the prefix, a Redis-compatible proxy answering oddly:
redis-py's own reply parsing, or the call's checks, raise ``TypeError``/``ValueError``/...),
is counted (``on_error(op)``), marks the connection unhealthy and makes ``run`` return None,
so callers serve without Redis. While unhealthy nothing is sent
until ``pause_s`` has passed; then one call probes, and its success ends the episode. Each
episode logs one warning when it starts and one info when it ends.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, cast
from urllib.parse import urlsplit

from redis.asyncio import BlockingConnectionPool, Redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from gateway.config import REDIS_TLS_SCHEMES

log = logging.getLogger("gateway.redis")

T = TypeVar("T")
RedisState = Literal["ok", "degraded"]

#: What a call can raise when Redis answered something else than it should. A call checks its
#: reply inside ``fn`` (``UnexpectedReplyError``), so a wrong reply is a failure like any other.
_REPLY_ERRORS = (TypeError, ValueError, KeyError, IndexError, AttributeError, UnicodeError)


class UnexpectedReplyError(RedisError):
    """A reply of a type, shape or value the call does not accept."""


def expect(ok: bool, what: str) -> None:
    """Raise ``UnexpectedReplyError`` unless ``ok`` (``what``: the reply that was wanted)."""
    if not ok:
        raise UnexpectedReplyError(f"unexpected reply: expected {what}")


CLUSTER_SCHEMES = ("redis+cluster://", "rediss+cluster://")


def is_cluster_url(url: str) -> bool:
    return url.startswith(CLUSTER_SCHEMES)


@dataclass(frozen=True)
class RedisAuth:
    """What may sit beside the URL rather than in it: the AUTH user and password (from a
    Secret, say, so that they are never written into a URL) and the CA of a TLS server."""

    username: str | None = None
    password: str | None = None
    ca_file: str | None = None

    def options(self, url: str) -> dict[str, Any]:
        """Connection keywords for redis-py (credentials in the URL would win over these)."""
        found: dict[str, Any] = {}
        if self.password:
            found["password"] = self.password
            if self.username:
                found["username"] = self.username
        if self.ca_file and urlsplit(url).scheme in REDIS_TLS_SCHEMES:
            found["ssl_ca_certs"] = self.ca_file
        return found


NO_AUTH = RedisAuth()


def _cluster_client(url: str, *, timeout_s: float, max_connections: int, auth: RedisAuth) -> Redis:
    """redis-py's asyncio cluster client. It speaks the same commands as ``Redis`` (every
    multi-key call of the gateway keeps its keys in one hash slot), so it is typed as one."""
    from redis.asyncio.cluster import RedisCluster

    plain = url.replace("+cluster://", "://", 1)
    cluster = RedisCluster.from_url(
        plain,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        socket_keepalive=True,
        max_connections=max_connections,
        # A failed node is the fail-open path's business (pause, probe); the client only
        # refreshes its slot map when a node moved or went away.
        retry=Retry(NoBackoff(), 1),
        require_full_coverage=False,
        **auth.options(url),
    )
    return cast(Redis, cluster)


def _pool(
    url: str, *, timeout_s: float, max_connections: int, auth: RedisAuth
) -> BlockingConnectionPool:
    """One server's pool: blocks at most ``timeout_s`` for a free connection."""
    return BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=timeout_s,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        socket_keepalive=True,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=30,
        **auth.options(url),
    )


class RedisConnection:
    """A ``redis.asyncio.Redis`` on one pool, with a key prefix and fail-open bookkeeping."""

    def __init__(
        self,
        client: Redis,
        *,
        timeout_s: float,
        prefix: str = "gw:",
        on_error: Callable[[str], None] | None = None,
        pause_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.timeout_s = timeout_s
        self.pause_s = pause_s
        self._on_error = on_error
        self._clock = clock
        self._healthy = True
        self._retry_at = 0.0
        self._abandoned: set[asyncio.Future[Any]] = set()
        #: A cluster client learns the slot map once, before any call: redis-py's asyncio
        #: cluster client breaks connections when many first calls initialise it at once.
        self._cluster_init: asyncio.Lock | None = None

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        timeout_s: float,
        prefix: str = "gw:",
        on_error: Callable[[str], None] | None = None,
        pause_s: float = 5.0,
        max_connections: int = 64,
        auth: RedisAuth = NO_AUTH,
    ) -> RedisConnection:
        """``redis://`` or ``rediss://`` (TLS), with password and database from the URL;
        ``redis+cluster://`` or ``rediss+cluster://`` for a Redis Cluster (any node's address).
        ``auth`` carries credentials and a CA kept out of the URL (the cluster client uses
        them on every node it discovers).

        No connection is opened here; the first call connects. The pool blocks at most
        ``timeout_s`` for a free connection; redis-py's own retries are off (we pause instead).
        """
        cluster = is_cluster_url(url)
        size = max_connections
        if cluster:
            client = _cluster_client(url, timeout_s=timeout_s, max_connections=size, auth=auth)
        else:
            client = Redis.from_pool(
                _pool(url, timeout_s=timeout_s, max_connections=size, auth=auth)
            )
        conn = cls(client, timeout_s=timeout_s, prefix=prefix, on_error=on_error, pause_s=pause_s)
        if cluster:
            conn._cluster_init = asyncio.Lock()
        return conn

    # -- state -----------------------------------------------------------------------------

    @property
    def healthy(self) -> bool:
        """False from a failed call until a later call succeeds."""
        return self._healthy

    @property
    def state(self) -> RedisState:
        return "ok" if self._healthy else "degraded"

    @property
    def usable(self) -> bool:
        """Healthy, or unhealthy with the pause over (the next call will probe)."""
        return self._healthy or self._clock() >= self._retry_at

    def key(self, *parts: str) -> str:
        """The prefixed key: ``key("cache", "v1:ab")`` is ``gw:cache:v1:ab``."""
        return self.prefix + ":".join(parts)

    # -- calls -----------------------------------------------------------------------------

    async def run(self, op: str, fn: Callable[[Redis], Awaitable[T]]) -> T | None:
        """``fn(client)`` within the timeout; None when it failed or Redis is paused.

        ``op`` labels the error metric (a fixed name such as ``cache_get``). ``fn`` parses and
        checks the reply itself, so that a reply it cannot use fails here.
        """
        probe = not self._healthy
        if probe:
            now = self._clock()
            if now < self._retry_at:
                return None
            self._retry_at = now + self.pause_s  # this call is the probe; others keep waiting
        try:
            result = await self._bounded(fn)
        except (RedisError, OSError, TimeoutError, *_REPLY_ERRORS) as exc:
            self._failed(op, exc)
            return None
        # Only the probe ends an outage: a call that was already in flight when another one
        # failed proves little, and would log one recovery (and one more outage) per burst.
        if probe and not self._healthy:
            self._healthy = True
            log.info("redis available again; caching, shared limits and shared stats resume")
        return result

    async def _bounded(self, fn: Callable[[Redis], Awaitable[T]]) -> T:
        """``fn`` in a task of its own, so the caller is back at ``timeout_s`` even when
        redis-py's clean-up of the cancelled call (pool locks, disconnect) takes longer."""
        task = asyncio.ensure_future(self._call(fn))
        try:
            done, _ = await asyncio.wait((task,), timeout=self.timeout_s)
        except asyncio.CancelledError:
            self._abandon(task)
            raise
        if not done:
            self._abandon(task)
            raise TimeoutError(f"no answer within {self.timeout_s:g}s")
        return task.result()

    async def _call(self, fn: Callable[[Redis], Awaitable[T]]) -> T:
        lock = self._cluster_init
        if lock is not None:
            async with lock:
                if self._cluster_init is not None:
                    await self.client.initialize()
                    self._cluster_init = None
        return await fn(self.client)

    def _abandon(self, task: asyncio.Future[Any]) -> None:
        task.cancel()
        self._abandoned.add(task)
        task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Future[Any]) -> None:
        self._abandoned.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: a late failure of an abandoned call is not logged

    async def ping(self) -> bool:
        return bool(await self.run("ping", lambda r: r.ping()))

    async def close(self) -> None:
        if self._abandoned:
            await asyncio.wait(set(self._abandoned), timeout=self.timeout_s)
        try:
            await self.client.aclose()
        except (RedisError, OSError) as exc:  # closing a broken connection
            log.debug("redis close failed: %s", exc)

    def _failed(self, op: str, exc: BaseException) -> None:
        if self._on_error is not None:
            self._on_error(op)
        self._retry_at = self._clock() + self.pause_s
        if self._healthy:
            self._healthy = False
            log.warning(
                "redis unavailable (%s in %s: %s); serving without it, retrying in %.1fs",
                type(exc).__name__,
                op,
                exc,
                self.pause_s,
            )
