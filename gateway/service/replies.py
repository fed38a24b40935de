"""Service: what the pipeline answers with, before HTTP: a JSON body or a stream of SSE bytes,
with the headers; ``gateway.api`` renders them as Starlette responses."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

#: Headers every streamed answer carries (no proxy buffering, no caching of the stream).
SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


@dataclass(frozen=True, slots=True)
class JsonReply:
    """A complete JSON answer; ``after`` runs once it has been sent (the shadow hand-off)."""

    body: bytes
    headers: dict[str, str]
    after: Callable[[], Awaitable[None]] | None = None


@dataclass(frozen=True, slots=True)
class StreamReply:
    """A streamed answer: SSE bytes as they come. Closing ``body`` (the client hung up)
    cancels the upstream stream and settles the request."""

    body: AsyncIterator[bytes]
    headers: dict[str, str]


Reply = JsonReply | StreamReply
