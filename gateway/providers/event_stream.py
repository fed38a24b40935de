"""Providers: the ConverseStream event stream, decoded from AWS event-stream frames."""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any, Protocol

import aiohttp
import orjson

from gateway.errors import UpstreamError, UpstreamServerError, UpstreamTimeoutError
from gateway.providers.bedrock_errors import error_from_stream_error, error_from_stream_exception
from gateway.providers.frames import FrameDecoder, FrameError, HeaderValue
from gateway.providers.transport import TransportError

Event = tuple[str, dict[str, Any]]


class BodySource(Protocol):
    """What the stream reads from: a transport ``Stream`` (or a test double)."""

    @property
    def headers(self) -> Mapping[str, str]: ...

    def set_read_timeout(self, seconds: float | None) -> None: ...

    async def next_chunks(self) -> list[bytes]: ...

    async def aclose(self) -> None: ...


class ConverseEventStream:
    """Async iterator of ``(event_type, payload)`` over one ConverseStream response.

    :meth:`next_batch` returns every event decoded from what has arrived (iteration is built
    on it). Exception frames raise the mapped ``UpstreamError``; a corrupt, truncated or
    dropped stream raises ``UpstreamServerError``; no byte within ``idle_timeout`` seconds
    while waiting raises ``UpstreamTimeoutError``. Always ``aclose()`` it (or use
    ``async with``): that returns the connection to the pool, or drops it when the body was
    not read to the end.
    """

    __slots__ = (
        "_closed",
        "_decoder",
        "_finished",
        "_idle_timeout",
        "_index",
        "_model_id",
        "_pending",
        "_queue",
        "_response",
        "_seen_metadata",
    )

    def __init__(self, response: BodySource, *, model_id: str, idle_timeout: float) -> None:
        self._response = response
        self._model_id = model_id
        self._idle_timeout = idle_timeout
        self._decoder = FrameDecoder()
        self._seen_metadata = False
        self._finished = False
        self._closed = False
        self._pending: UpstreamError | None = None
        self._queue: list[Event] = []
        self._index = 0
        response.set_read_timeout(idle_timeout)

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def headers(self) -> Mapping[str, str]:
        """The HTTP response headers (case-insensitive mapping)."""
        return self._response.headers

    def __aiter__(self) -> ConverseEventStream:
        return self

    async def __aenter__(self) -> ConverseEventStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Release the connection; idempotent. An unfinished body closes the connection."""
        if self._closed:
            return
        self._closed = True
        self._finished = True
        self._queue = []
        self._index = 0
        await self._response.aclose()

    async def __anext__(self) -> Event:
        index = self._index
        queue = self._queue
        if index >= len(queue):
            queue = self._queue = await self.next_batch()
            if not queue:
                raise StopAsyncIteration
            index = 0
        self._index = index + 1
        return queue[index]

    async def next_batch(self) -> list[Event]:
        """Every complete event that has arrived (waiting for one); ``[]`` after a clean end."""
        if self._index < len(self._queue):
            rest = self._queue[self._index :]
            self._queue, self._index = [], 0
            return rest
        if self._finished:
            return []
        try:
            while True:
                batch = self._drain()
                if batch:
                    return batch
                if not await self._fill():
                    await self._end_of_body()
                    return []
        except UpstreamError:
            await self.aclose()
            raise

    def _drain(self) -> list[Event]:
        """Decode every complete frame in the buffer; an error after events waits its turn."""
        pending = self._pending
        if pending is not None:
            self._pending = None
            raise pending
        frames, frame_error = self._decoder.decode()
        batch: list[Event] = []
        try:
            for headers, payload in frames:
                event = self._decode(headers, payload)
                if event is not None:
                    batch.append(event)
        except UpstreamError as exc:
            if not batch:
                raise
            self._pending = exc
            return batch
        if frame_error is not None:
            error = self._corrupt(frame_error)
            if not batch:
                raise error from frame_error
            self._pending = error
        return batch

    async def _fill(self) -> bool:
        """Feed what has arrived to the frame buffer; False at the end of the body."""
        try:
            chunks = await self._response.next_chunks()
        except TimeoutError as exc:
            raise UpstreamTimeoutError(
                f"Bedrock stream for model {self._model_id} stalled: no event within "
                f"{self._idle_timeout:g}s"
            ) from exc
        except (aiohttp.ClientError, TransportError, OSError) as exc:
            raise UpstreamServerError(
                f"Bedrock stream for model {self._model_id} broke off before its end "
                f"({type(exc).__name__})"
            ) from exc
        if not chunks:
            return False
        self._decoder.feed(chunks[0] if len(chunks) == 1 else b"".join(chunks))
        return True

    def _corrupt(self, exc: FrameError) -> UpstreamServerError:
        return UpstreamServerError(
            f"Bedrock stream for model {self._model_id} is corrupt "
            f"({type(exc).__name__}: {str(exc)[:200]})"
        )

    async def _end_of_body(self) -> None:
        if self._decoder.buffered:
            raise UpstreamServerError(
                f"Bedrock stream for model {self._model_id} ended inside a frame "
                f"({self._decoder.buffered} bytes of a truncated frame)"
            )
        if not self._seen_metadata:
            raise UpstreamServerError(
                f"Bedrock stream for model {self._model_id} ended before its metadata event "
                "(connection dropped)"
            )
        await self.aclose()

    def _decode(self, headers: Mapping[str, HeaderValue], raw: bytes) -> Event | None:
        message_type = headers.get(":message-type", "event")
        if message_type == "event":
            event_type = str(headers.get(":event-type", ""))
            payload = self._payload(raw)
            if event_type == "metadata":
                self._seen_metadata = True
            return event_type, payload
        if message_type == "exception":
            raise error_from_stream_exception(
                str(headers.get(":exception-type", "")), raw, model_id=self._model_id
            )
        if message_type == "error":
            raise error_from_stream_error(
                str(headers.get(":error-code", "")),
                str(headers.get(":error-message", "")),
                model_id=self._model_id,
            )
        return None

    def _payload(self, raw: bytes) -> dict[str, Any]:
        if not raw:
            return {}
        try:
            parsed = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise UpstreamServerError(
                f"Bedrock stream for model {self._model_id} sent an event that is not JSON"
            ) from exc
        if not isinstance(parsed, dict):
            raise UpstreamServerError(
                f"Bedrock stream for model {self._model_id} sent an event that is not an object"
            )
        return parsed
