"""Providers: the pooled HTTPS transport to Bedrock Runtime, on aiohttp.

aiohttp (the client aiobotocore uses) brings what AWS networks need: ``HTTPS_PROXY`` /
``NO_PROXY`` from the environment, a custom CA bundle, and no automatic re-send of a POST.
The gateway adds a bounded slot per request in front of the connector, so that waiting for a
free connection is the gateway's own saturation (``GatewaySaturatedError``, a metric), never
counted against a model's deadline or circuit.
"""

from __future__ import annotations

import asyncio
import ssl
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
from multidict import CIMultiDictProxy
from yarl import URL

from gateway.errors import GatewaySaturatedError

MAX_BODY_BYTES = 64 * 1024 * 1024
KEEPALIVE_S = 30.0

#: uvloop's clock (and so its timers) moves in 1 ms steps.
_CLOCK_STEP_S = 0.001

#: Called with the seconds a request waited for a slot, and whether it got one.
PoolWaitHook = Callable[[float, bool], None]


class TransportError(Exception):
    """A failure below HTTP that aiohttp does not type (e.g. an oversized body)."""


class BodyTooLarge(TransportError):
    """The response body exceeds ``MAX_BODY_BYTES``."""


@dataclass(frozen=True, slots=True)
class Response:
    """A whole response: status, headers (case-insensitive) and body."""

    status: int
    headers: Mapping[str, str]
    body: bytes


class Stream:
    """A response whose head has arrived; read its body, then always :meth:`aclose` it.

    The gap allowed between body bytes is kept by one lazy timer per stream, not by aiohttp's
    ``sock_read`` (which cancels and re-creates a timer on every network read, 40 times for a
    40-chunk stream): a read notes when its wait began; the timer fires once per
    ``read_timeout`` and either cuts a wait that lasted that long or re-arms for the rest.
    """

    __slots__ = (
        "_loop",
        "_read_timeout",
        "_release",
        "_response",
        "_timer",
        "_waiting_since",
        "headers",
        "status",
    )

    def __init__(
        self, response: aiohttp.ClientResponse, release: Callable[[], None], read_timeout: float
    ) -> None:
        self._response: aiohttp.ClientResponse | None = response
        self._release = release
        self._loop = asyncio.get_running_loop()
        self._read_timeout = read_timeout
        self._waiting_since = 0.0  # 0.0: not waiting for the body now
        self._timer: asyncio.TimerHandle | None = None
        self.status = response.status
        self.headers: CIMultiDictProxy[str] = response.headers
        self._arm(self._loop.time())

    def set_read_timeout(self, seconds: float | None) -> None:
        """The gap allowed between body bytes (None or 0: no limit)."""
        self._read_timeout = seconds or 0.0
        self._arm(self._loop.time())

    async def next_chunks(self) -> list[bytes]:
        """What has arrived of the body, waiting for some; ``[]`` at its end."""
        response = self._response
        if response is None:
            return []
        self._waiting_since = self._loop.time()
        try:
            data = await response.content.readany()
        finally:
            self._waiting_since = 0.0
        return [data] if data else []

    async def read(self) -> bytes:
        """The rest of the body (bounded; all of it within one ``read_timeout``)."""
        response = self._response
        if response is None:
            return b""
        self._waiting_since = self._loop.time()
        try:
            return await _read_body(response)
        finally:
            self._waiting_since = 0.0

    async def aclose(self) -> None:
        """Give the connection back (or drop it when the body was not read); idempotent."""
        response, self._response = self._response, None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if response is not None:
            response.release()
            self._release()

    def _arm(self, start: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._read_timeout > 0 and self._response is not None:
            self._timer = self._loop.call_at(start + self._read_timeout, self._expire)

    def _expire(self) -> None:
        """A wait as long as ``read_timeout``: the read raises ``TimeoutError``; else re-arm."""
        self._timer = None
        response = self._response
        if response is None:
            return
        since, now = self._waiting_since, self._loop.time()
        if since and now - since >= self._read_timeout - _CLOCK_STEP_S:
            response.content.set_exception(
                TimeoutError(f"no body byte within {self._read_timeout:g}s")
            )
            return
        self._arm(since or now)


class Transport:
    """Keep-alive connections to one Bedrock endpoint, at most ``limit`` requests at once."""

    def __init__(
        self,
        base_url: str,
        *,
        limit: int,
        connect_timeout: float,
        pool_timeout: float,
        ca_bundle: str | None = None,
        on_pool_wait: PoolWaitHook | None = None,
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self._base = base_url
        self._limit = limit
        self._pool_timeout = pool_timeout
        self._ca_bundle = ca_bundle
        self._on_pool_wait = on_pool_wait
        self._slots = asyncio.Semaphore(limit)
        self._in_use = 0
        self._session: aiohttp.ClientSession | None = None
        self._connector: aiohttp.TCPConnector | None = None
        self._timeout = aiohttp.ClientTimeout(total=None, sock_connect=connect_timeout)
        self.proxy: str | None = None

    async def start(self) -> None:
        """Create the session inside the running loop; idempotent."""
        if self._session is not None:
            return
        context = await asyncio.to_thread(_ssl_context, self._ca_bundle)
        self.proxy = env_proxy(self._base)
        if self._session is not None:
            return
        self._connector = aiohttp.TCPConnector(
            limit=self._limit,
            limit_per_host=self._limit,
            ssl=context,
            keepalive_timeout=KEEPALIVE_S,
            ttl_dns_cache=60,
        )
        self._session = aiohttp.ClientSession(
            connector=self._connector,
            proxy=self.proxy,  # resolved once, not per request as trust_env would
            timeout=self._timeout,
            auto_decompress=False,
            # Bedrock sets no cookies; aiohttp's jar costs ~40 us a request to consult.
            cookie_jar=aiohttp.DummyCookieJar(),
            skip_auto_headers=("Accept-Encoding", "User-Agent"),
            raise_for_status=False,
        )

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def stats(self) -> dict[str, int]:
        connector = self._connector
        idle = 0
        if connector is not None and self._session is not None:
            # aiohttp keeps idle connections per host key; count them for diagnostics.
            idle = sum(len(v) for v in getattr(connector, "_conns", {}).values())
        return {"in_use": self._in_use, "idle": idle, "limit": self._limit}

    async def request(
        self, path: str | URL, headers: Mapping[str, str], body: bytes, *, timeout: float
    ) -> Response:
        """POST and read the whole answer within ``timeout`` once a connection is free."""
        session = self._require()
        await self._acquire()
        try:
            async with asyncio.timeout(timeout):
                async with session.post(
                    path if isinstance(path, URL) else self.url(path), data=body, headers=headers
                ) as response:
                    raw = await _read_body(response)
                    return Response(response.status, response.headers, raw)
        finally:
            self._free()

    async def open(
        self, path: str | URL, headers: Mapping[str, str], body: bytes, *, read_timeout: float
    ) -> Stream:
        """POST; return once the status and headers arrived.

        ``read_timeout`` bounds the wait for the head and each gap between body bytes.
        """
        session = self._require()
        await self._acquire()
        try:
            async with asyncio.timeout(read_timeout):
                response = await session.post(
                    path if isinstance(path, URL) else self.url(path), data=body, headers=headers
                )
        except BaseException:
            self._free()
            raise
        return Stream(response, self._free, read_timeout)

    def url(self, path: str) -> URL:
        """The URL of an already-encoded path, sent as it is (SigV4 signs the path as sent)."""
        return URL(self._base + path, encoded=True)

    def _require(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("the transport is not started: await start() first")
        return self._session

    async def _acquire(self) -> None:
        slots = self._slots
        if not slots.locked():
            await slots.acquire()  # free: returns at once
            self._in_use += 1
            return
        started = time.monotonic()
        try:
            async with asyncio.timeout(self._pool_timeout):
                await slots.acquire()
        except TimeoutError:
            self._note_wait(time.monotonic() - started, got=False)
            raise GatewaySaturatedError(
                f"The gateway's {self._limit} upstream connections stayed busy for "
                f"{self._pool_timeout:g}s; retry shortly.",
                retry_after=1.0,
            ) from None
        self._in_use += 1
        self._note_wait(time.monotonic() - started, got=True)

    def _note_wait(self, seconds: float, *, got: bool) -> None:
        if self._on_pool_wait is not None:
            self._on_pool_wait(seconds, got)

    def _free(self) -> None:
        self._in_use -= 1
        self._slots.release()


async def _read_body(response: aiohttp.ClientResponse) -> bytes:
    length = response.content_length
    if length is not None and length > MAX_BODY_BYTES:
        raise BodyTooLarge(f"the response body has {length} bytes, over {MAX_BODY_BYTES}")
    if length is not None:
        return await response.read()
    parts: list[bytes] = []
    size = 0
    while data := await response.content.readany():
        size += len(data)
        if size > MAX_BODY_BYTES:
            raise BodyTooLarge(f"the response body is over {MAX_BODY_BYTES} bytes")
        parts.append(data)
    return b"".join(parts)


def env_proxy(url: str) -> str | None:
    """The proxy for ``url`` from HTTPS_PROXY / HTTP_PROXY unless NO_PROXY matches it.

    The same variables botocore honours, so credentials and Bedrock calls take one path.
    """
    parts = urlsplit(url)
    proxy = urllib.request.getproxies_environment().get(parts.scheme)
    bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
    if not proxy or bypass(parts.netloc):
        return None
    return proxy if "://" in proxy else f"http://{proxy}"


def _ssl_context(ca_bundle: str | None) -> ssl.SSLContext:
    """The system trust store, or the AWS CA bundle (AWS_CA_BUNDLE / profile ``ca_bundle``)."""
    return ssl.create_default_context(cafile=ca_bundle or None)
