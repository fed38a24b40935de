"""Emulator: the ConverseStream answer as event-stream frames, with stream faults."""

from __future__ import annotations

import asyncio
import uuid

import orjson
from aiohttp import web

from gateway.emulator.answers import THINKING_SIGNATURE, Answer
from gateway.emulator.eventstream import encode_exception, encode_json_event
from gateway.emulator.state import Fault

EVENTSTREAM_TYPE = "application/vnd.amazon.eventstream"
TOOL_FRAGMENTS = 3
BREAKING_MODES = ("break_stream", "drop_stream", "truncate_frame")
THROTTLE_MESSAGE = "Too many requests, please wait before trying again."
STREAM_ERROR_MESSAGE = "An error occurred while streaming the response. Retry your request."


def split_text(text: str, pieces: int) -> list[str]:
    """`text` in `pieces` nearly equal parts (fewer when the text is shorter)."""
    count = max(1, min(pieces, len(text)))
    size, extra = divmod(len(text), count)
    parts, start = [], 0
    for index in range(count):
        end = start + size + (1 if index < extra else 0)
        parts.append(text[start:end])
        start = end
    return parts


def stream_frames(answer: Answer, chunks: int, latency_ms: int) -> list[tuple[bytes, bool]]:
    """Every frame of the stream in order, each flagged when it is a content delta."""
    frames: list[tuple[bytes, bool]] = [
        (encode_json_event("messageStart", {"role": "assistant"}), False)
    ]
    index = 0
    if answer.reasoning is not None:
        for piece in split_text(answer.reasoning, 2):
            delta = {"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": piece}}}
            frames.append((encode_json_event("contentBlockDelta", delta), True))
        signed = {"reasoningContent": {"signature": THINKING_SIGNATURE}}
        frames.append(
            (
                encode_json_event("contentBlockDelta", {"contentBlockIndex": 0, "delta": signed}),
                True,
            )
        )
        frames.append((encode_json_event("contentBlockStop", {"contentBlockIndex": 0}), False))
        index = 1
    if answer.text is not None:
        for piece in split_text(answer.text, chunks):
            delta = {"contentBlockIndex": index, "delta": {"text": piece}}
            frames.append((encode_json_event("contentBlockDelta", delta), True))
        frames.append((encode_json_event("contentBlockStop", {"contentBlockIndex": index}), False))
        index += 1
    if answer.tool is not None:
        tool = answer.tool
        start = {"toolUse": {"toolUseId": tool.tool_use_id, "name": tool.name}}
        frames.append(
            (
                encode_json_event(
                    "contentBlockStart", {"contentBlockIndex": index, "start": start}
                ),
                False,
            )
        )
        for fragment in split_text(orjson.dumps(tool.input).decode(), TOOL_FRAGMENTS):
            delta = {"contentBlockIndex": index, "delta": {"toolUse": {"input": fragment}}}
            frames.append((encode_json_event("contentBlockDelta", delta), True))
        frames.append((encode_json_event("contentBlockStop", {"contentBlockIndex": index}), False))
    frames.append((encode_json_event("messageStop", {"stopReason": answer.stop_reason}), False))
    metadata = {"usage": answer.usage, "metrics": {"latencyMs": latency_ms}, **answer.served}
    frames.append((encode_json_event("metadata", metadata), False))
    return frames


async def _open(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(
        status=200,
        headers={"Content-Type": EVENTSTREAM_TYPE, "x-amzn-RequestId": str(uuid.uuid4())},
    )
    response.enable_chunked_encoding()
    await response.prepare(request)
    return response


def _drop(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.abort()


async def write_stream(
    request: web.Request, answer: Answer, chunks: int, latency_ms: int, fault: Fault | None
) -> web.StreamResponse:
    """Send the stream, one frame per write, applying a stream fault when given."""
    response = await _open(request)
    mode = fault.mode if fault is not None else None
    if mode == "stream_throttle":
        await response.write(encode_exception("throttlingException", THROTTLE_MESSAGE))
        await response.write_eof()
        return response
    chunk_delay = fault.chunk_delay_ms / 1000 if fault is not None else 0.0
    after = fault.after_chunks if fault is not None else 0
    deltas = 0
    for position, (frame, is_delta) in enumerate(stream_frames(answer, chunks, latency_ms)):
        if is_delta and deltas >= after and mode in BREAKING_MODES:
            await _fail_stream(request, response, mode, frame)
            return response
        if chunk_delay and position:
            await asyncio.sleep(chunk_delay)
        await response.write(frame)
        deltas += is_delta
    await response.write_eof()
    return response


async def _fail_stream(
    request: web.Request, response: web.StreamResponse, mode: str | None, frame: bytes
) -> None:
    if mode == "break_stream":
        extra = {"originalStatusCode": 500, "originalMessage": "Emulated model stream failure."}
        await response.write(
            encode_exception("modelStreamErrorException", STREAM_ERROR_MESSAGE, extra)
        )
        await response.write_eof()
        return
    if mode == "truncate_frame":
        await response.write(frame[: len(frame) // 2])
    _drop(request)
