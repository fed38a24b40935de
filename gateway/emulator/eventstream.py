"""Emulator: encoder of the AWS event-stream framing (application/vnd.amazon.eventstream)."""

from __future__ import annotations

import binascii
import struct
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import orjson

_STRING_TYPE = 7
_PRELUDE = struct.Struct(">II")
_CRC = struct.Struct(">I")


def _string_header(name: str, value: str) -> bytes:
    raw_name = name.encode("utf-8")
    raw_value = value.encode("utf-8")
    return (
        bytes((len(raw_name),))
        + raw_name
        + bytes((_STRING_TYPE,))
        + struct.pack(">H", len(raw_value))
        + raw_value
    )


def encode_headers(headers: Mapping[str, str]) -> bytes:
    """Encode string headers (type 7) in the given order."""
    return b"".join(_string_header(name, value) for name, value in headers.items())


def encode_frame(headers: bytes, payload: bytes) -> bytes:
    """Build one frame from encoded headers and a payload, with both CRCs."""
    total = len(headers) + len(payload) + 16
    prelude = _PRELUDE.pack(total, len(headers))
    prelude_crc = binascii.crc32(prelude)
    body = prelude + _CRC.pack(prelude_crc) + headers + payload
    return body + _CRC.pack(binascii.crc32(body))


@lru_cache(maxsize=128)
def _event_headers(event_type: str) -> bytes:
    return encode_headers(
        {
            ":event-type": event_type,
            ":content-type": "application/json",
            ":message-type": "event",
        }
    )


@lru_cache(maxsize=64)
def _exception_headers(exception_type: str) -> bytes:
    return encode_headers(
        {
            ":exception-type": exception_type,
            ":content-type": "application/json",
            ":message-type": "exception",
        }
    )


def encode_event(event_type: str, payload_bytes: bytes) -> bytes:
    """An event frame (`:message-type` event) carrying a JSON payload."""
    return encode_frame(_event_headers(event_type), payload_bytes)


def encode_json_event(event_type: str, payload: Any) -> bytes:
    """An event frame whose payload is `payload` serialised as compact JSON."""
    return encode_frame(_event_headers(event_type), orjson.dumps(payload))


def encode_exception(
    exception_type: str, message: str, extra: Mapping[str, Any] | None = None
) -> bytes:
    """A modelled exception frame, e.g. `throttlingException`, payload {"message": ...}."""
    body: dict[str, Any] = {"message": message}
    if extra:
        body.update(extra)
    return encode_frame(_exception_headers(exception_type), orjson.dumps(body))
