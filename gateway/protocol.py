"""Serving: uvicorn's httptools protocol with bounds on what a client may make it hold.

uvicorn 0.54 with httptools has no limit on the size or count of request headers, no deadline
for a request head (its keep-alive timer is cancelled by any byte, so a client sending one
byte every few seconds is held forever) and none for a body. h11's
``h11_max_incomplete_event_size`` exists only for the h11 protocol, which is about half as
fast here. So this subclass counts the bytes of each request head as they arrive, counts
header lines, and arms two timers: one from the first byte a connection may send until its
head is complete, one from there until its body is complete.

A head over the bounds is answered as uvicorn answers a request it cannot parse (a 400 and
the connection closed), with an OpenAI-shaped body: 431 is not a status the openai SDK maps
to an exception class. A deadline that passes closes the connection without an answer (the
client did not finish asking); the application then sees the client as gone.

uvicorn cancels its keep-alive timer when a connection ends cleanly but not when it ends in
an error (a client's reset): the pending timer then holds the closed connection's protocol,
transport and last request (~35 KB) for the keep-alive timeout. This subclass cancels it on
every close.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


@dataclass(frozen=True, slots=True)
class ConnectionBounds:
    """What one connection may send before the application sees it (see module docstring)."""

    max_header_bytes: int = 64 * 1024
    max_headers: int = 100
    header_timeout_s: float = 10.0
    body_timeout_s: float = 60.0


class _HeadRefused(Exception):
    """Raised inside a parser callback to stop parsing a head already answered."""


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """httptools, plus the bounds of ``ConnectionBounds`` (pass them with functools.partial)."""

    def __init__(self, *args: Any, bounds: ConnectionBounds, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._bounds = bounds
        self._in_head = True
        self._head_bytes = 0
        self._header_count = 0
        self._refused = False
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self._bounds.header_timeout_s)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)
        if self.timeout_keep_alive_task is not None:  # left armed by uvicorn after a reset
            self.timeout_keep_alive_task.cancel()
            self.timeout_keep_alive_task = None

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        was_in_head = self._in_head
        super().data_received(data)
        # Counted after parsing, only while a head is incomplete before and after this read:
        # a read that also carries the body's start (or a body's end) is not counted, so a
        # head may pass the bound by one read of the transport (at most 256 KiB).
        if was_in_head and self._in_head and not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > self._bounds.max_header_bytes:
                limit = self._bounds.max_header_bytes
                self._refuse(f"Request headers exceed the limit of {limit} bytes.")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._header_count = 0
        if self._deadline is None:
            self._arm(self._bounds.header_timeout_s)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > self._bounds.max_headers:
            self._refuse(f"Request has more than {self._bounds.max_headers} header lines.")
            raise _HeadRefused
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_bytes = 0
        self._arm(self._bounds.body_timeout_s)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        if self.cycle is not None and self.cycle.response_complete:
            # Answered before the body ended (a 413, a 429): the next head is due now.
            self._in_head = True
            self._arm(self._bounds.header_timeout_s)
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self._deadline is None and not self._in_head:
            self._in_head = True
            self._arm(self._bounds.header_timeout_s)

    def send_400_response(self, msg: str) -> None:
        if self._refused or self.transport.is_closing():
            return  # this head was answered already (or the connection is going)
        super().send_400_response(msg)

    def _refuse(self, message: str) -> None:
        """A 400 naming the bound, then close (as uvicorn does for a head it cannot parse)."""
        self._refused = True
        self._disarm()
        body = orjson.dumps(
            {
                "error": {
                    "message": message,
                    "type": "invalid_request_error",
                    "param": None,
                    "code": "request_header_fields_too_large",
                }
            }
        )
        head = (
            b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n"
        )
        self.transport.write(head + body)
        self.transport.close()

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        """The client did not finish its head or body in time: drop the connection."""
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()
