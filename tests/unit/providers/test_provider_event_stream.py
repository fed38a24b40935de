"""Unit tests: ConverseEventStream decodes hand-built AWS event-stream frames."""

from __future__ import annotations

import asyncio
import binascii
import struct
from typing import Any

import orjson
import pytest

from gateway.errors import (
    UpstreamServerError,
    UpstreamThrottledError,
    UpstreamTimeoutError,
    UpstreamValidationError,
)
from gateway.providers.event_stream import ConverseEventStream

MODEL = "anthropic.claude-3-haiku-20240307-v1:0"


def _headers(headers: dict[str, str]) -> bytes:
    out = b""
    for name, value in headers.items():
        raw_name, raw_value = name.encode(), value.encode()
        out += bytes([len(raw_name)]) + raw_name + b"\x07" + struct.pack(">H", len(raw_value))
        out += raw_value
    return out


def frame(headers: dict[str, str], payload: bytes) -> bytes:
    """A tiny event-stream encoder (prelude, prelude CRC, headers, payload, message CRC)."""
    raw_headers = _headers(headers)
    prelude = struct.pack(">II", 16 + len(raw_headers) + len(payload), len(raw_headers))
    prelude += struct.pack(">I", binascii.crc32(prelude) & 0xFFFFFFFF)
    body = prelude + raw_headers + payload
    return body + struct.pack(">I", binascii.crc32(body) & 0xFFFFFFFF)


def event(event_type: str, payload: dict[str, Any]) -> bytes:
    return frame(
        {
            ":event-type": event_type,
            ":content-type": "application/json",
            ":message-type": "event",
        },
        orjson.dumps(payload),
    )


def exception(exception_type: str, message: str) -> bytes:
    return frame(
        {
            ":exception-type": exception_type,
            ":content-type": "application/json",
            ":message-type": "exception",
        },
        orjson.dumps({"message": message}),
    )


def test_encoder_matches_the_reference_vector() -> None:
    expected = (
        "000000760000005296d5fade0b3a6576656e742d7479706507000c6d65737361676553746172740d3a63"
        "6f6e74656e742d747970650700106170706c69636174696f6e2f6a736f6e0d3a6d6573736167652d7479"
        "70650700056576656e747b22726f6c65223a22617373697374616e74227d6fa8c599"
    )
    assert event("messageStart", {"role": "assistant"}).hex() == expected


class FakeResponse:
    """Just what ConverseEventStream uses of the transport Stream: next_chunks, aclose, headers."""

    def __init__(self, chunks: list[bytes], stall: float | None = None) -> None:
        self._chunks = list(chunks)
        self._stall = stall
        self.eof = False
        self.timeout: float | None = None
        self.headers: dict[str, str] = {}
        self.released = 0
        self.closed = 0

    def set_read_timeout(self, seconds: float | None) -> None:
        self.timeout = seconds

    async def next_chunks(self) -> list[bytes]:
        if self._chunks:
            return [self._chunks.pop(0)]
        if self._stall is not None:
            await asyncio.wait_for(asyncio.sleep(self._stall), self.timeout)
        self.eof = True
        return []

    async def aclose(self) -> None:
        if self.eof:
            self.released += 1
        else:
            self.closed += 1


def _stream(response: FakeResponse, idle: float = 1.0) -> ConverseEventStream:
    return ConverseEventStream(response, model_id=MODEL, idle_timeout=idle)


FULL = [
    event("messageStart", {"role": "assistant"}),
    event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Hel"}}),
    event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "lo"}, "p": "abc"}),
    event("contentBlockStop", {"contentBlockIndex": 0}),
    event("messageStop", {"stopReason": "end_turn"}),
    event(
        "metadata",
        {
            "usage": {"inputTokens": 3, "outputTokens": 2, "totalTokens": 5},
            "metrics": {"latencyMs": 7},
        },
    ),
]
ORDER = [
    "messageStart",
    "contentBlockDelta",
    "contentBlockDelta",
    "contentBlockStop",
    "messageStop",
    "metadata",
]


async def _collect(stream: ConverseEventStream) -> list[tuple[str, dict[str, Any]]]:
    return [item async for item in stream]


@pytest.mark.parametrize("chunk_size", [1, 7, 64, 100_000])
async def test_decodes_events_in_order_whatever_the_chunking(chunk_size: int) -> None:
    data = b"".join(FULL)
    chunks = [data[i : i + chunk_size] for i in range(0, len(data), chunk_size)]
    response = FakeResponse(chunks)
    events = await _collect(_stream(response))
    assert [name for name, _ in events] == ORDER
    assert events[1][1]["delta"]["text"] == "Hel"
    assert events[-1][1]["usage"]["totalTokens"] == 5
    assert response.released == 1 and response.closed == 0


@pytest.mark.parametrize(
    ("exception_type", "cls"),
    [
        ("throttlingException", UpstreamThrottledError),
        ("validationException", UpstreamValidationError),
        ("modelStreamErrorException", UpstreamServerError),
        ("internalServerException", UpstreamServerError),
    ],
)
async def test_exception_frame_raises_mapped_error(exception_type: str, cls: type) -> None:
    response = FakeResponse([FULL[0] + exception(exception_type, "stop it")])
    stream = _stream(response)
    assert (await stream.__anext__())[0] == "messageStart"
    with pytest.raises(cls, match="stop it"):
        await stream.__anext__()
    assert response.closed == 1
    with pytest.raises(StopAsyncIteration):
        await stream.__anext__()


async def test_error_frame_raises_server_error() -> None:
    bad = frame(
        {":message-type": "error", ":error-code": "InternalFailure", ":error-message": "oops"}, b""
    )
    with pytest.raises(UpstreamServerError, match=r"InternalFailure.*oops"):
        await _collect(_stream(FakeResponse([bad])))


async def test_checksum_mismatch_is_server_error() -> None:
    corrupt = bytearray(FULL[1])
    corrupt[-6] ^= 0xFF
    with pytest.raises(UpstreamServerError, match="corrupt"):
        await _collect(_stream(FakeResponse([FULL[0], bytes(corrupt)])))


async def test_truncated_frame_is_server_error() -> None:
    with pytest.raises(UpstreamServerError, match="truncated"):
        await _collect(_stream(FakeResponse([FULL[0], FULL[1][:20]])))


async def test_end_before_metadata_is_server_error() -> None:
    response = FakeResponse(FULL[:4])
    with pytest.raises(UpstreamServerError, match="before its metadata"):
        await _collect(_stream(response))
    assert response.released + response.closed == 1


async def test_stall_between_frames_times_out() -> None:
    response = FakeResponse(FULL[:2], stall=10.0)
    stream = _stream(response, idle=0.1)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(UpstreamTimeoutError, match="stalled"):
        await _collect(stream)
    assert loop.time() - started < 1.0
    assert response.closed == 1


async def test_early_aclose_closes_the_connection_once() -> None:
    response = FakeResponse(FULL)
    async with _stream(response) as stream:
        async for name, _ in stream:
            assert name == "messageStart"
            break
    await stream.aclose()
    assert response.closed == 1 and response.released == 0
    with pytest.raises(StopAsyncIteration):
        await stream.__anext__()


class BatchResponse(FakeResponse):
    """Hands out several chunks per read, as a fast network does."""

    def __init__(self, reads: list[list[bytes]]) -> None:
        super().__init__([])
        self._reads = list(reads)

    async def next_chunks(self) -> list[bytes]:
        if self._reads:
            return self._reads.pop(0)
        self.eof = True
        return []


async def test_next_batch_returns_every_frame_that_arrived() -> None:
    data = b"".join(FULL)
    response = BatchResponse([[FULL[0]], [data[len(FULL[0]) : -10], data[-10:]]])
    stream = _stream(response)
    first = await stream.next_batch()
    assert [name for name, _ in first] == ["messageStart"]
    second = await stream.next_batch()
    assert [name for name, _ in second] == ORDER[1:]
    assert await stream.next_batch() == []
    assert await stream.next_batch() == []
    assert response.released == 1 and response.closed == 0


async def test_next_batch_delivers_events_before_a_following_exception() -> None:
    response = BatchResponse([[FULL[0] + FULL[1] + exception("throttlingException", "slow")]])
    stream = _stream(response)
    assert [name for name, _ in await stream.next_batch()] == ["messageStart", "contentBlockDelta"]
    with pytest.raises(UpstreamThrottledError, match="slow"):
        await stream.next_batch()
    assert response.closed == 1
    assert await stream.next_batch() == []


async def test_iteration_and_batches_mix() -> None:
    response = BatchResponse([[b"".join(FULL)]])
    stream = _stream(response)
    assert (await stream.__anext__())[0] == "messageStart"
    assert [name for name, _ in await stream.next_batch()] == ORDER[1:]
    with pytest.raises(StopAsyncIteration):
        await stream.__anext__()


async def test_corrupt_frame_after_events_raises_on_the_next_batch() -> None:
    corrupt = bytearray(FULL[1])
    corrupt[-6] ^= 0xFF
    stream = _stream(BatchResponse([[FULL[0] + bytes(corrupt)]]))
    assert [name for name, _ in await stream.next_batch()] == ["messageStart"]
    with pytest.raises(UpstreamServerError, match="corrupt"):
        await stream.next_batch()


async def test_end_before_metadata_in_batches_is_server_error() -> None:
    stream = _stream(BatchResponse([FULL[:3]]))
    assert len(await stream.next_batch()) == 3
    with pytest.raises(UpstreamServerError, match="before its metadata"):
        await stream.next_batch()
