"""Providers: a small pooled HTTP/1.1 keep-alive client for one origin (asyncio + httptools)."""

from __future__ import annotations

import asyncio
import ssl as _ssl
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from gateway.providers.http1_conn import (
    CHUNK,
    COMPLETE,
    HEADERS,
    MAX_BODY_BYTES,
    MAX_HEAD_BYTES,
    Http1BodyTooLarge,
    Http1Connection,
    Http1ConnectionClosed,
    Http1ConnectTimeout,
    Http1Error,
    Http1HeadersTooLarge,
    Http1PayloadError,
    Http1ProtocolError,
    Http1ReadTimeout,
)

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_HEAD_BYTES",
    "Http1BodyTooLarge",
    "Http1ConnectTimeout",
    "Http1ConnectionClosed",
    "Http1Error",
    "Http1Headers",
    "Http1HeadersTooLarge",
    "Http1PayloadError",
    "Http1Pool",
    "Http1ProtocolError",
    "Http1ReadTimeout",
    "Http1Response",
    "Http1Stream",
    "host_header",
]

#: Bodies up to this size are copied into the head's buffer (one write, one syscall).
_COPY_LIMIT = 256 * 1024

Headers = Sequence[tuple[bytes, bytes]] | bytes


def host_header(host: str, port: int, *, tls: bool) -> str:
    """The Host header value: the port only when it is not the scheme's default."""
    name = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return name if port == (443 if tls else 80) else f"{name}:{port}"


class Http1Headers(Mapping[str, str]):
    """Read-only, case-insensitive response headers (lowercase keys), decoded on first use."""

    __slots__ = ("_map", "_raw")

    def __init__(self, raw: list[tuple[bytes, bytes]]) -> None:
        self._raw = raw
        self._map: dict[str, str] | None = None

    def _dict(self) -> dict[str, str]:
        mapping = self._map
        if mapping is None:
            mapping = {}
            for raw_name, raw_value in self._raw:
                name = raw_name.decode("latin-1").lower()
                value = raw_value.decode("latin-1")
                previous = mapping.get(name)
                mapping[name] = value if previous is None else f"{previous}, {value}"
            self._map = mapping
        return mapping

    def __getitem__(self, key: str) -> str:
        return self._dict()[key.lower()]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._dict()

    def __iter__(self) -> Iterator[str]:
        return iter(self._dict())

    def __len__(self) -> int:
        return len(self._dict())

    def __repr__(self) -> str:
        return f"Http1Headers({self._dict()!r})"


@dataclass(frozen=True, slots=True)
class Http1Response:
    """A whole response: status, headers and body."""

    status: int
    headers: Http1Headers
    body: bytes


class Http1Stream:
    """A response whose head has arrived; read its body, then always :meth:`aclose` it."""

    __slots__ = ("_conn", "_pool", "headers", "status")

    def __init__(self, pool: Http1Pool, conn: Http1Connection) -> None:
        self._pool = pool
        self._conn: Http1Connection | None = conn
        self.status = conn.status
        self.headers = Http1Headers(conn.raw_headers)

    @property
    def complete(self) -> bool:
        """Whether the whole body has arrived (it may not all have been taken yet)."""
        conn = self._conn
        return conn is not None and conn.complete

    def set_read_timeout(self, seconds: float | None) -> None:
        """Bound each wait for body bytes (one timer per connection, pushed per read)."""
        if self._conn is not None:
            self._conn.read_timeout = seconds

    async def next_chunks(self) -> list[bytes]:
        """Every body chunk that has arrived, waiting for one; ``[]`` at the end of the body."""
        conn = self._conn
        if conn is None:
            return []
        if not conn.chunks and not conn.complete:
            await self._wait(conn, CHUNK)
        return conn.take_chunks()

    async def read(self) -> bytes:
        """The rest of the body."""
        conn = self._conn
        if conn is None:
            return b""
        conn.streaming = False
        await self._wait(conn, COMPLETE)
        return b"".join(conn.take_chunks())

    async def _wait(self, conn: Http1Connection, want: int) -> None:
        done = False
        try:
            await conn.wait(want)
            done = True
        finally:
            if not done:
                conn.abort()

    async def aclose(self) -> None:
        """Give the connection back (kept only after a complete keep-alive message); idempotent."""
        conn, self._conn = self._conn, None
        if conn is not None:
            self._pool.release(conn)


class Http1Pool:
    """Keep-alive HTTP/1.1 connections to one origin, at most ``limit`` open at once.

    Waiters queue in order; an idle connection older than ``idle_timeout`` is closed; a request
    that a reused connection drops before any response byte is sent again on a fresh one.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        ssl: _ssl.SSLContext | None,
        server_hostname: str | None,
        limit: int,
        connect_timeout: float,
        idle_timeout: float = 60.0,
        max_body: int = MAX_BODY_BYTES,
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self._host = host
        self._port = port
        self._ssl = ssl
        self._server_hostname = (server_hostname or host) if ssl is not None else None
        self._limit = limit
        self._connect_timeout = connect_timeout
        self._idle_timeout = idle_timeout
        self._max_body = max_body
        authority = host_header(host, port, tls=ssl is not None)
        self._host_line = b" HTTP/1.1\r\nHost: %s\r\n" % authority.encode("idna")
        self._idle: deque[Http1Connection] = deque()
        self._waiters: deque[asyncio.Future[Http1Connection | None]] = deque()
        self._in_use = 0
        self._expiry: asyncio.TimerHandle | None = None
        self._closed = False

    def stats(self) -> dict[str, int]:
        return {"in_use": self._in_use, "idle": len(self._idle), "limit": self._limit}

    async def request(
        self, method: bytes, path: bytes, headers: Headers, body: bytes
    ) -> Http1Response:
        """Send a request and read the whole response."""
        conn = await self._exchange(self._payload(method, path, headers, body), COMPLETE, method)
        chunks = conn.chunks
        response = Http1Response(
            conn.status,
            Http1Headers(conn.raw_headers),
            chunks[0] if len(chunks) == 1 else b"".join(chunks),
        )
        self.release(conn)
        return response

    async def open(self, method: bytes, path: bytes, headers: Headers, body: bytes) -> Http1Stream:
        """Send a request; return once the status and headers arrived."""
        conn = await self._exchange(self._payload(method, path, headers, body), HEADERS, method)
        conn.streaming = True
        return Http1Stream(self, conn)

    async def close(self) -> None:
        """Close idle connections now and in-use ones when released; fail queued waiters."""
        self._closed = True
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        while self._idle:
            conn = self._idle.pop()
            conn.in_pool = False
            conn.close()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(Http1Error("the connection pool was closed"))
        await asyncio.sleep(0)

    # -- exchange -----------------------------------------------------------------------------

    def _payload(
        self, method: bytes, path: bytes, headers: Headers, body: bytes
    ) -> bytes | list[bytes]:
        if not isinstance(headers, bytes):
            headers = _header_block(headers)
        head = (
            method,
            b" ",
            path,
            self._host_line,
            headers,
            b"Content-Length: %d\r\n\r\n" % len(body),
        )
        if len(body) <= _COPY_LIMIT:
            return b"".join((*head, body))
        return [b"".join(head), body]

    async def _exchange(
        self, payload: bytes | list[bytes], want: int, method: bytes
    ) -> Http1Connection:
        head_request = method == b"HEAD"
        conn = await self._acquire()
        done = False
        try:
            try:
                conn.send(payload, head_request)
                await conn.wait(want)
            except Http1ConnectionClosed:
                if not conn.reused or conn.got_bytes:
                    raise
                # A stale keep-alive: the server closed it before reading our request.
                conn.abort()
                conn = await self._connect()
                conn.send(payload, head_request)
                await conn.wait(want)
            done = True
        finally:
            if not done:
                conn.abort()
                self._free_slot()
        return conn

    # -- pool ---------------------------------------------------------------------------------

    async def _acquire(self) -> Http1Connection:
        if self._closed:
            raise Http1Error("the connection pool is closed")
        idle = self._idle
        if idle:
            cutoff = asyncio.get_running_loop().time() - self._idle_timeout
            while idle:
                conn = idle.pop()
                conn.in_pool = False
                if conn.usable and conn.idle_since > cutoff:
                    self._in_use += 1
                    return conn
                conn.close()
        if self._in_use < self._limit:
            self._in_use += 1
            return await self._connect_in_slot()
        waiter: asyncio.Future[Http1Connection | None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            handed = await waiter
        except asyncio.CancelledError:
            if not waiter.done():
                self._waiters.remove(waiter)
            elif not waiter.cancelled() and waiter.exception() is None:
                self._hand_back(waiter.result())
            raise
        if handed is None:
            return await self._connect_in_slot()
        return handed

    async def _connect_in_slot(self) -> Http1Connection:
        done = False
        try:
            conn = await self._connect()
            done = True
        finally:
            if not done:
                self._free_slot()
        return conn

    async def _connect(self) -> Http1Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._connect_timeout):
                _, conn = await loop.create_connection(
                    lambda: Http1Connection(loop, self._lost, self._max_body),
                    self._host,
                    self._port,
                    ssl=self._ssl,
                    server_hostname=self._server_hostname,
                )
        except TimeoutError as exc:
            raise Http1ConnectTimeout(
                f"connecting to {self._host}:{self._port} took over {self._connect_timeout:g}s"
            ) from exc
        return conn

    def release(self, conn: Http1Connection) -> None:
        """Back to the pool after a complete keep-alive message, else closed; frees its slot."""
        if not (conn.complete and conn.keep_alive and conn.usable) or self._closed:
            conn.close()
            self._free_slot()
            return
        conn.reused = True
        conn.read_timeout = None
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        self._in_use -= 1
        conn.idle_since = asyncio.get_running_loop().time()
        conn.in_pool = True
        self._idle.append(conn)
        if self._expiry is None:
            self._schedule_expiry()

    def _hand_back(self, conn: Http1Connection | None) -> None:
        """A waiter was cancelled after being handed a slot: pass it on."""
        if conn is None:
            self._free_slot()
        else:
            self.release(conn)

    def _free_slot(self) -> None:
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._in_use -= 1

    def _lost(self, conn: Http1Connection) -> None:
        if conn.in_pool:
            conn.in_pool = False
            self._idle.remove(conn)

    def _schedule_expiry(self) -> None:
        if self._idle and not self._closed:
            when = self._idle[0].idle_since + self._idle_timeout
            self._expiry = asyncio.get_running_loop().call_at(when, self._expire)

    def _expire(self) -> None:
        self._expiry = None
        idle = self._idle
        cutoff = asyncio.get_running_loop().time() - self._idle_timeout
        while idle and idle[0].idle_since <= cutoff:
            conn = idle.popleft()
            conn.in_pool = False
            conn.close()
        self._schedule_expiry()


def _header_block(headers: Sequence[tuple[bytes, bytes]]) -> bytes:
    lines = []
    for name, value in headers:
        if b"\r" in name or b"\n" in name or b"\r" in value or b"\n" in value or b":" in name:
            raise ValueError(f"invalid header {name!r}")
        lines.append(b"%s: %s\r\n" % (name, value))
    return b"".join(lines)
