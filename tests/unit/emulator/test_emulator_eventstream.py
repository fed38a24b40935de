"""Emulator: the event-stream encoder against the reference vectors and botocore's decoder."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, cast

import pytest
from botocore.eventstream import EventStreamBuffer, EventStreamMessage

from gateway.emulator.eventstream import (
    encode_event,
    encode_exception,
    encode_frame,
    encode_headers,
    encode_json_event,
)

EMPTY_FRAME = "000000100000000005c248eb7d98c8ff"
MESSAGE_START = (
    "000000760000005296d5fade0b3a6576656e742d7479706507000c6d65737361676553746172740d3a636f"
    "6e74656e742d747970650700106170706c69636174696f6e2f6a736f6e0d3a6d6573736167652d74797065"
    "0700056576656e747b22726f6c65223a22617373697374616e74227d6fa8c599"
)


def _decode(data: bytes, chunk: int = 7) -> list[EventStreamMessage]:
    buffer = EventStreamBuffer()
    messages: list[EventStreamMessage] = []
    for start in range(0, len(data), chunk):
        buffer.add_data(data[start : start + chunk])
        messages.extend(cast("Iterable[EventStreamMessage]", buffer))
    return messages


def _headers(message: EventStreamMessage) -> dict[str, Any]:
    return cast("dict[str, Any]", message.headers)


def test_empty_frame_vector() -> None:
    assert encode_frame(b"", b"").hex() == EMPTY_FRAME


def test_message_start_vector() -> None:
    frame = encode_event("messageStart", b'{"role":"assistant"}')
    assert frame.hex() == MESSAGE_START
    assert len(frame) == 118
    assert encode_json_event("messageStart", {"role": "assistant"}) == frame


def test_event_decodes_with_botocore() -> None:
    payload = {"contentBlockIndex": 0, "delta": {"text": "Grüße, 世界 ✓"}}
    (message,) = _decode(encode_json_event("contentBlockDelta", payload))
    assert _headers(message) == {
        ":event-type": "contentBlockDelta",
        ":content-type": "application/json",
        ":message-type": "event",
    }
    assert json.loads(message.payload) == payload


def test_exception_frame() -> None:
    frame = encode_exception("throttlingException", "slow down")
    (message,) = _decode(frame, chunk=3)
    assert _headers(message)[":message-type"] == "exception"
    assert _headers(message)[":exception-type"] == "throttlingException"
    assert _headers(message)[":content-type"] == "application/json"
    assert json.loads(message.payload) == {"message": "slow down"}


def test_exception_frame_extra_members() -> None:
    frame = encode_exception("modelStreamErrorException", "m", {"originalStatusCode": 500})
    (message,) = _decode(frame)
    assert json.loads(message.payload) == {"message": "m", "originalStatusCode": 500}


def test_many_frames_in_one_buffer() -> None:
    frames = b"".join(
        encode_json_event("contentBlockStop", {"contentBlockIndex": i}) for i in range(5)
    )
    messages = _decode(frames, chunk=11)
    assert [json.loads(m.payload)["contentBlockIndex"] for m in messages] == [0, 1, 2, 3, 4]


def test_large_payload() -> None:
    payload = b'{"text":"' + b"x" * 200_000 + b'"}'
    (message,) = _decode(encode_event("contentBlockDelta", payload), chunk=65536)
    assert message.payload == payload


def test_headers_use_string_type() -> None:
    encoded = encode_headers({":a": "bc"})
    assert encoded == b"\x02:a\x07\x00\x02bc"


@pytest.mark.parametrize("cut", [1, 12, 60])
def test_truncated_frame_yields_nothing(cut: int) -> None:
    frame = encode_json_event("messageStart", {"role": "assistant"})
    assert _decode(frame[:-cut]) == []
