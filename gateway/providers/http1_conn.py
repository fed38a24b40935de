"""Providers: one HTTP/1.1 client connection (an asyncio.Protocol fed to httptools' parser)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import cast

import httptools

MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 64 * 1024 * 1024
#: A stream's unread body above this pauses reading from the socket until it is taken.
_HIGH_WATER = 1024 * 1024

#: What a waiter waits for.
HEADERS = 1
CHUNK = 2
COMPLETE = 3


class Http1Error(Exception):
    """A failed HTTP/1.1 exchange; the connection it happened on is dropped."""


class Http1ProtocolError(Http1Error):
    """The server's bytes are not a valid HTTP/1.1 response (or not one we accept)."""


class Http1HeadersTooLarge(Http1ProtocolError):
    """The response head exceeds ``MAX_HEAD_BYTES``."""


class Http1BodyTooLarge(Http1ProtocolError):
    """The response body exceeds the body bound."""


class Http1PayloadError(Http1Error):
    """The connection ended after part of the response: the answer is cut off."""


class Http1ConnectionClosed(Http1Error, ConnectionError):
    """The connection ended before any byte of the response arrived."""


class Http1ReadTimeout(Http1Error, TimeoutError):
    """No response byte within the read timeout."""


class Http1ConnectTimeout(Http1Error, TimeoutError):
    """The TCP (and TLS) connection was not established in time."""


class Http1Connection(asyncio.Protocol):
    """One keep-alive connection carrying one request at a time.

    The pool calls :meth:`send`, then :meth:`wait` for the head, a chunk or the whole
    message; the parser callbacks fill ``status``, ``raw_headers`` and ``chunks``.
    """

    __slots__ = (
        "_active",
        "_body_size",
        "_deadline",
        "_exc",
        "_head_request",
        "_head_size",
        "_header_bytes",
        "_loop",
        "_lost",
        "_max_body",
        "_on_lost",
        "_parser",
        "_paused",
        "_timer",
        "_transport",
        "_unread",
        "_waiter",
        "_want",
        "chunks",
        "complete",
        "got_bytes",
        "headers_done",
        "idle_since",
        "in_pool",
        "keep_alive",
        "raw_headers",
        "read_timeout",
        "reused",
        "status",
        "streaming",
    )

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        on_lost: Callable[[Http1Connection], None],
        max_body: int = MAX_BODY_BYTES,
    ) -> None:
        self._loop = loop
        self._on_lost = on_lost
        self._max_body = max_body
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._lost = False
        self._active = False
        self._timer: asyncio.TimerHandle | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._want = 0
        self._paused = False
        self.reused = False
        self.in_pool = False
        self.idle_since = 0.0
        self._reset(False)

    def _reset(self, head_request: bool) -> None:
        self.status = 0
        self.raw_headers: list[tuple[bytes, bytes]] = []
        self.chunks: list[bytes] = []
        self.headers_done = False
        self.complete = False
        self.keep_alive = False
        self.got_bytes = False
        self.streaming = False
        self.read_timeout: float | None = None
        self._exc: Http1Error | None = None
        self._head_request = head_request
        self._head_size = 0
        self._header_bytes = 0
        self._body_size = 0
        self._unread = 0
        self._deadline = 0.0

    # -- used by the pool -------------------------------------------------------------------

    @property
    def usable(self) -> bool:
        transport = self._transport
        return not self._lost and transport is not None and not transport.is_closing()

    def send(self, payload: bytes | list[bytes], head_request: bool = False) -> None:
        """Start an exchange: write the request (raises if the connection is gone)."""
        self._reset(head_request)
        self._active = True
        transport = self._transport
        if self._lost or transport is None or transport.is_closing():
            raise Http1ConnectionClosed("the connection was closed before the request was sent")
        if isinstance(payload, bytes):
            transport.write(payload)
        else:
            transport.writelines(payload)

    async def wait(self, want: int) -> None:
        """Until the head (HEADERS), a body chunk (CHUNK) or the whole message (COMPLETE)."""
        while True:
            if self.complete or (
                self.chunks if want == CHUNK else want == HEADERS and self.headers_done
            ):
                return
            if self._exc is not None:
                raise self._exc
            if want == COMPLETE and self._paused:
                self._resume()
            self._want = want
            waiter = self._waiter = self._loop.create_future()
            if self.read_timeout is not None:
                self._arm_timer(self.read_timeout)
            try:
                await waiter
            finally:
                self._waiter = None
                self._want = 0

    def take_chunks(self) -> list[bytes]:
        """Every body chunk that arrived since the last call."""
        chunks = self.chunks
        if chunks:
            self.chunks = []
            self._unread = 0
            if self._paused:
                self._resume()
        return chunks

    def close(self) -> None:
        """Close gracefully after a complete message, abort otherwise (state unknown)."""
        self._active = False
        self._cancel_timer()
        transport = self._transport
        if transport is not None and not transport.is_closing():
            if self.complete:
                transport.close()
            else:
                transport.abort()

    def abort(self) -> None:
        self.complete = False
        self.close()

    # -- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but have its methods.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if not self._active or self.complete:
            self._fail(Http1ProtocolError("the server sent bytes outside of a response"))
            return
        self.got_bytes = True
        if not self.headers_done:
            self._head_size += len(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(Http1ProtocolError("the server switched protocols (not supported)"))
            return
        except httptools.HttpParserError as exc:
            self._fail(Http1ProtocolError(f"malformed HTTP/1.1 response: {str(exc)[:200]}"))
            return
        if self._exc is not None:
            self._fail(self._exc)  # a bound broken inside a callback
        elif not self.headers_done and self._head_size > MAX_HEAD_BYTES:
            self._fail(Http1HeadersTooLarge(f"response head exceeds {MAX_HEAD_BYTES} bytes"))
        elif self.streaming and self._unread > _HIGH_WATER and not self._paused:
            self._paused = True
            if self._transport is not None:
                self._transport.pause_reading()

    def eof_received(self) -> bool | None:
        self._at_eof(None)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self._cancel_timer()
        self._at_eof(exc)
        self._on_lost(self)

    # -- httptools callbacks ------------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_bytes += len(name) + len(value) + 4
        if self._header_bytes > MAX_HEAD_BYTES:
            self._violation(Http1HeadersTooLarge(f"response head exceeds {MAX_HEAD_BYTES} bytes"))
        else:
            self.raw_headers.append((name, value))

    def on_headers_complete(self) -> None:
        if self._exc is not None:
            return
        status = self._parser.get_status_code()
        self.status = status
        if status < 200:
            return
        self.headers_done = True
        if self._head_request:
            # llhttp cannot know a HEAD answer has no body: complete it, never reuse.
            self._complete(keep_alive=False)
        elif self._want == HEADERS:
            self._wake()

    def on_body(self, body: bytes) -> None:
        if self.complete or self._exc is not None:
            return
        size = len(body)
        self._body_size += size
        if self._body_size > self._max_body:
            self._violation(Http1BodyTooLarge(f"response body exceeds {self._max_body} bytes"))
            return
        self.chunks.append(body)
        self._unread += size
        if self._want == CHUNK:
            self._wake()

    def on_message_complete(self) -> None:
        if self.status < 200:
            # An interim 1xx answer: the real one follows on the same connection.
            self.raw_headers = []
            self._header_bytes = 0
            self.status = 0
            return
        if not self.complete and self._exc is None:
            self._complete(keep_alive=self._parser.should_keep_alive())

    # -- internals ----------------------------------------------------------------------------

    def _complete(self, *, keep_alive: bool) -> None:
        self.complete = True
        self.keep_alive = keep_alive
        self._active = False
        self._cancel_timer()
        self._wake()

    def _violation(self, exc: Http1Error) -> None:
        """A bound broken while parsing: recorded now, the connection dropped after the feed."""
        if self._exc is None:
            self._exc = exc

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, exc: Http1Error) -> None:
        if self._exc is None and not self.complete:
            self._exc = exc
        transport = self._transport
        if transport is not None and not transport.is_closing():
            transport.abort()
        self._cancel_timer()
        self._wake()

    def _at_eof(self, exc: Exception | None) -> None:
        if not self._active or self.complete or self._exc is not None:
            self._wake()
            return
        detail = f" ({type(exc).__name__}: {str(exc)[:200]})" if exc is not None else ""
        if self.headers_done and self._close_delimited():
            self._complete(keep_alive=False)
        elif not self.got_bytes:
            self._fail(Http1ConnectionClosed("the server closed the connection" + detail))
        else:
            self._fail(Http1PayloadError("the server closed the connection mid-response" + detail))

    def _close_delimited(self) -> bool:
        """No Content-Length and not chunked: the body ends with the connection."""
        if self.status in (204, 304):
            return False
        for name, value in self.raw_headers:
            lowered = name.lower()
            if lowered == b"content-length":
                return False
            if lowered == b"transfer-encoding" and b"chunked" in value.lower():
                return False
        return True

    def _resume(self) -> None:
        self._paused = False
        transport = self._transport
        if transport is not None and not transport.is_closing():
            transport.resume_reading()

    def _arm_timer(self, timeout: float) -> None:
        """One timer per connection, pushed forward lazily: no new handle per read."""
        self._deadline = self._loop.time() + timeout
        if self._timer is None:
            self._timer = self._loop.call_at(self._deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        if self._loop.time() < self._deadline:
            self._timer = self._loop.call_at(self._deadline, self._on_timer)
            return
        self._fail(Http1ReadTimeout(f"no response byte within {self.read_timeout:g}s"))

    def _cancel_timer(self) -> None:
        timer = self._timer
        if timer is not None:
            self._timer = None
            timer.cancel()
