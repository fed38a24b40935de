"""Unit tests: the event-stream frame decoder, against hand-built frames and botocore's parser."""

from __future__ import annotations

import binascii
import struct

import pytest
from botocore.eventstream import EventStreamBuffer

from gateway.emulator.eventstream import encode_exception, encode_json_event
from gateway.providers.frames import (
    MAX_HEADERS_BYTES,
    ChecksumMismatch,
    FrameDecoder,
    FrameError,
    InvalidHeader,
    InvalidLength,
    parse_headers,
)


def frame(raw_headers: bytes, payload: bytes) -> bytes:
    prelude = struct.pack(">II", 16 + len(raw_headers) + len(payload), len(raw_headers))
    prelude += struct.pack(">I", binascii.crc32(prelude))
    body = prelude + raw_headers + payload
    return body + struct.pack(">I", binascii.crc32(body))


def header(name: str, kind: int, value: bytes) -> bytes:
    return bytes([len(name)]) + name.encode() + bytes([kind]) + value


TYPED_HEADERS = [
    ("true", header("t", 0, b""), True),
    ("false", header("f", 1, b""), False),
    ("byte", header("b", 2, b"\xff"), -1),
    ("short", header("s", 3, struct.pack(">h", -300)), -300),
    ("integer", header("i", 4, struct.pack(">i", 70000)), 70000),
    ("long", header("l", 5, struct.pack(">q", -(2**40))), -(2**40)),
    ("bytes", header("y", 6, struct.pack(">H", 3) + b"\x00\x01\x02"), b"\x00\x01\x02"),
    ("string", header("u", 7, struct.pack(">H", 5) + "héll".encode()), "héll"),
    ("timestamp", header("d", 8, struct.pack(">q", 1_700_000_000_000)), 1_700_000_000_000),
    ("uuid", header("x", 9, bytes(range(16))), bytes(range(16))),
]


@pytest.mark.parametrize(
    ("kind", "raw", "expected"), TYPED_HEADERS, ids=[t[0] for t in TYPED_HEADERS]
)
def test_every_header_value_type_decodes_as_botocore_does(
    kind: str, raw: bytes, expected: object
) -> None:
    data = frame(raw, b"{}")
    decoder = FrameDecoder()
    decoder.feed(data)
    frames, error = decoder.decode()
    reference = EventStreamBuffer()
    reference.add_data(data)
    (message,) = list(reference)
    assert error is None
    assert dict(frames[0][0]) == message.headers
    assert next(iter(frames[0][0].values())) == expected
    assert frames[0][1] == message.payload == b"{}"


BEDROCK_STREAM = b"".join(
    [
        encode_json_event("messageStart", {"role": "assistant"}),
        *(
            encode_json_event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": w}})
            for w in ("Hello", " from", " the", " emulator")
        ),
        encode_json_event("contentBlockStop", {"contentBlockIndex": 0}),
        encode_json_event("messageStop", {"stopReason": "end_turn"}),
        encode_exception("throttlingException", "slow down"),
    ]
)


@pytest.mark.parametrize("step", [1, 7, 64, 150, len(BEDROCK_STREAM)])
def test_a_stream_split_anywhere_gives_botocores_frames(step: int) -> None:
    decoder = FrameDecoder()
    got: list[tuple[dict[str, object], bytes]] = []
    for start in range(0, len(BEDROCK_STREAM), step):
        decoder.feed(BEDROCK_STREAM[start : start + step])
        frames, error = decoder.decode()
        assert error is None
        got.extend((dict(h), p) for h, p in frames)
    reference = EventStreamBuffer()
    reference.add_data(BEDROCK_STREAM)
    assert got == [(m.headers, m.payload) for m in reference]
    assert decoder.buffered == 0


def test_a_partial_frame_stays_buffered() -> None:
    data = encode_json_event("messageStart", {"role": "assistant"})
    decoder = FrameDecoder()
    decoder.feed(data + data[:20])
    frames, error = decoder.decode()
    assert (len(frames), error, decoder.buffered) == (1, None, 20)


def _flip(data: bytes, index: int) -> bytes:
    corrupt = bytearray(data)
    corrupt[index] ^= 0xFF
    return bytes(corrupt)


GOOD = encode_json_event("contentBlockDelta", {"delta": {"text": "x"}})


def _with_prelude(total: int, headers_length: int) -> bytes:
    prelude = struct.pack(">II", total, headers_length)
    return prelude + struct.pack(">I", binascii.crc32(prelude)) + b"\x00" * 16


BAD_FRAMES = [
    ("prelude crc", _flip(GOOD, 9), ChecksumMismatch),
    ("total length changed", _flip(GOOD, 3), ChecksumMismatch),
    ("payload byte", _flip(GOOD, -6), ChecksumMismatch),
    ("message crc", _flip(GOOD, -1), ChecksumMismatch),
    ("headers over the limit", _with_prelude(MAX_HEADERS_BYTES + 32, MAX_HEADERS_BYTES + 1),
     InvalidLength),
    ("total below the minimum", _with_prelude(15, 0), InvalidLength),
    ("unknown header type", frame(header("z", 42, b""), b""), InvalidHeader),
    ("string past the block", frame(header("u", 7, struct.pack(">H", 9) + b"ab"), b""),
     InvalidHeader),
    ("uuid past the block", frame(header("x", 9, b"\x01\x02"), b""), InvalidHeader),
    ("name past the block", frame(b"\x09ab", b""), InvalidHeader),
    ("integer past the block", frame(header("i", 4, b"\x01"), b""), InvalidHeader),
]  # fmt: skip


@pytest.mark.parametrize(("case", "data", "error_type"), BAD_FRAMES, ids=[b[0] for b in BAD_FRAMES])
def test_a_bad_frame_is_an_error_after_the_good_ones(
    case: str, data: bytes, error_type: type[FrameError]
) -> None:
    decoder = FrameDecoder()
    decoder.feed(GOOD + data)
    frames, error = decoder.decode()
    assert len(frames) == 1, case
    assert isinstance(error, error_type), (case, error)
    assert decoder.buffered == len(data)


def test_parsed_header_blocks_are_shared_and_read_only() -> None:
    raw = header("u", 7, struct.pack(">H", 1) + b"a")
    first = parse_headers(raw)
    assert parse_headers(bytes(raw)) is first
    with pytest.raises(TypeError):
        first["u"] = "b"  # type: ignore[index]
