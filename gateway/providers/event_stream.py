"""Providers: the ConverseStream event stream, decoded from AWS event-stream frames."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from types import TracebackType
from typing import Any, cast

import aiohttp
import orjson
from botocore.eventstream import EventStreamBuffer, EventStreamMessage, ParserError

from gateway.errors import UpstreamError, UpstreamServerError, UpstreamTimeoutError
from gateway.providers.bedrock_errors import error_from_stream_error, error_from_stream_exception

_READ_SIZE = 65536


class ConverseEventStream:
    """Async iterator of ``(event_type, payload)`` over one ConverseStream response.

    Exception frames raise the mapped ``UpstreamError``; a corrupt, truncated or dropped
    stream raises ``UpstreamServerError``; no frame within ``idle_timeout`` seconds raises
    ``UpstreamTimeoutError``. Always ``aclose()`` it (or use ``async with``): that returns
    the connection to the pool, or drops it when the body was not read to the end.
    """

    __slots__ = (
        "_buffer",
        "_closed",
        "_consumed",
        "_fed",
        "_finished",
        "_idle_timeout",
        "_model_id",
        "_response",
        "_seen_metadata",
    )

    def __init__(
        self, response: aiohttp.ClientResponse, *, model_id: str, idle_timeout: float
    ) -> None:
        self._response = response
        self._model_id = model_id
        self._idle_timeout = idle_timeout
        self._buffer = EventStreamBuffer()
        self._fed = 0
        self._consumed = 0
        self._seen_metadata = False
        self._finished = False
        self._closed = False

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
        if self._response.content.at_eof():
            self._response.release()
        else:
            self._response.close()

    async def __anext__(self) -> tuple[str, dict[str, Any]]:
        if self._finished:
            raise StopAsyncIteration
        try:
            while True:
                message = await self._next_message()
                if message is None:
                    await self._end_of_body()
                    raise StopAsyncIteration
                event = self._decode(message)
                if event is not None:
                    return event
        except UpstreamError:
            await self.aclose()
            raise

    async def _next_message(self) -> EventStreamMessage | None:
        """The next complete frame, or None at the end of the body (idle timeout applies)."""
        try:
            async with asyncio.timeout(self._idle_timeout):
                while True:
                    message = next(self._buffer, None)
                    if message is not None:
                        # botocore-stubs type ``prelude``/``headers`` as int; they are objects.
                        self._consumed += cast(Any, message.prelude).total_length
                        return message
                    chunk = await self._response.content.readany()
                    if not chunk:
                        return None
                    self._fed += len(chunk)
                    self._buffer.add_data(chunk)
        except TimeoutError as exc:
            raise UpstreamTimeoutError(
                f"Bedrock stream for model {self._model_id} stalled: no event within "
                f"{self._idle_timeout:g}s"
            ) from exc
        except ParserError as exc:
            raise UpstreamServerError(
                f"Bedrock stream for model {self._model_id} is corrupt "
                f"({type(exc).__name__}: {str(exc)[:200]})"
            ) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise UpstreamServerError(
                f"Bedrock stream for model {self._model_id} broke off before its end "
                f"({type(exc).__name__})"
            ) from exc

    async def _end_of_body(self) -> None:
        if self._fed != self._consumed:
            raise UpstreamServerError(
                f"Bedrock stream for model {self._model_id} ended inside a frame "
                f"({self._fed - self._consumed} bytes of a truncated frame)"
            )
        if not self._seen_metadata:
            raise UpstreamServerError(
                f"Bedrock stream for model {self._model_id} ended before its metadata event "
                "(connection dropped)"
            )
        await self.aclose()

    def _decode(self, message: EventStreamMessage) -> tuple[str, dict[str, Any]] | None:
        headers = cast("dict[str, Any]", message.headers)
        message_type = headers.get(":message-type", "event")
        if message_type == "event":
            event_type = str(headers.get(":event-type", ""))
            payload = self._payload(message.payload)
            if event_type == "metadata":
                self._seen_metadata = True
            return event_type, payload
        if message_type == "exception":
            raise error_from_stream_exception(
                str(headers.get(":exception-type", "")),
                message.payload,
                model_id=self._model_id,
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
