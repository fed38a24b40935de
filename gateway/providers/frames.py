"""Providers: a decoder of AWS event-stream frames (``application/vnd.amazon.eventstream``).

botocore's ``EventStreamBuffer`` builds several objects and calls per header and per frame;
in the gateway's profile it was 14-18% of a streamed request's CPU. This decoder checks the
same things (both CRC32s, the length limits, the header value types) with ``struct`` and
``binascii`` and parses each distinct header block once: Bedrock sends the same few header
blocks (``:event-type`` / ``:content-type`` / ``:message-type``) over and over.

Frame layout: total length (u32), headers length (u32), prelude CRC (u32, of the first 8
bytes), headers, payload, message CRC (u32, of everything before it). All big-endian.
"""

from __future__ import annotations

import binascii
import struct
from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType

HeaderValue = bool | int | bytes | str
Frame = tuple[Mapping[str, HeaderValue], bytes]

PRELUDE_BYTES = 12
MESSAGE_CRC_BYTES = 4
#: botocore's limits for one frame.
MAX_HEADERS_BYTES = 128 * 1024
MAX_PAYLOAD_BYTES = 24 * 1024 * 1024
_PRELUDE = struct.Struct(">III")
_U32 = struct.Struct(">I")
_U16 = struct.Struct(">H")
#: Fixed-size header values by type: (size, struct format); 0/1 are true/false, 6/7 sized.
_FIXED = {2: struct.Struct(">b"), 3: struct.Struct(">h"), 4: struct.Struct(">i"),
          5: struct.Struct(">q"), 8: struct.Struct(">q")}  # fmt: skip
_UUID_BYTES = 16


class FrameError(ValueError):
    """A frame that is not valid event-stream framing (bad CRC, length or header)."""


class ChecksumMismatch(FrameError):
    """A prelude or message CRC32 does not match."""


class InvalidLength(FrameError):
    """A length field outside the frame format's limits."""


class InvalidHeader(FrameError):
    """A header block that cannot be parsed."""


class FrameDecoder:
    """Accumulates body bytes and returns every complete frame in them."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = b""

    @property
    def buffered(self) -> int:
        """Bytes received that are not part of a returned frame yet (0 between frames)."""
        return len(self._buffer)

    def feed(self, data: bytes) -> None:
        self._buffer = self._buffer + data if self._buffer else bytes(data)

    def decode(self) -> tuple[list[Frame], FrameError | None]:
        """The complete frames buffered, and the error that stopped decoding (or None).

        Frames before a bad one are returned with its error, so the caller can use them
        first; the bad frame and what follows stay buffered.
        """
        buffer = self._buffer
        size = len(buffer)
        offset = 0
        frames: list[Frame] = []
        error: FrameError | None = None
        try:
            while size - offset >= PRELUDE_BYTES:
                end = _frame_end(buffer, offset)
                if end > size:
                    break
                frames.append(_frame(buffer, offset, end))
                offset = end
        except FrameError as exc:
            error = exc
        if offset:
            self._buffer = buffer[offset:]
        return frames, error


def _frame_end(buffer: bytes, offset: int) -> int:
    """Checks a frame's prelude; where the frame ends."""
    total, headers_length, prelude_crc = _PRELUDE.unpack_from(buffer, offset)
    if binascii.crc32(buffer[offset : offset + 8]) != prelude_crc:
        raise ChecksumMismatch("prelude checksum mismatch")
    if headers_length > MAX_HEADERS_BYTES:
        raise InvalidLength(f"headers length {headers_length} is over {MAX_HEADERS_BYTES}")
    payload_length = total - headers_length - PRELUDE_BYTES - MESSAGE_CRC_BYTES
    if payload_length < 0 or payload_length > MAX_PAYLOAD_BYTES:
        raise InvalidLength(f"payload length {payload_length} is invalid")
    return int(offset + total)


def _frame(buffer: bytes, offset: int, end: int) -> Frame:
    """One whole frame's headers and payload, its message CRC checked."""
    crc_at = end - MESSAGE_CRC_BYTES
    (message_crc,) = _U32.unpack_from(buffer, crc_at)
    if binascii.crc32(memoryview(buffer)[offset:crc_at]) != message_crc:
        raise ChecksumMismatch("message checksum mismatch")
    (headers_length,) = _U32.unpack_from(buffer, offset + 4)
    headers_end = offset + PRELUDE_BYTES + headers_length
    headers = parse_headers(buffer[offset + PRELUDE_BYTES : headers_end])
    return headers, buffer[headers_end:crc_at]


@lru_cache(maxsize=256)
def parse_headers(raw: bytes) -> Mapping[str, HeaderValue]:
    """A header block as a read-only mapping (cached: Bedrock repeats a few blocks)."""
    headers: dict[str, HeaderValue] = {}
    offset, size = 0, len(raw)
    try:
        while offset < size:
            name_length = raw[offset]
            name = raw[offset + 1 : offset + 1 + name_length].decode()
            offset += 1 + name_length
            value, offset = _header_value(raw, offset)
            headers[name] = value
    except (IndexError, struct.error, UnicodeDecodeError) as exc:
        raise InvalidHeader(f"malformed header block ({type(exc).__name__})") from exc
    if offset != size:
        raise InvalidHeader("a header value runs past the header block")
    return MappingProxyType(headers)


def _header_value(raw: bytes, offset: int) -> tuple[HeaderValue, int]:
    kind = raw[offset]
    offset += 1
    if kind in (0, 1):
        return kind == 0, offset
    if kind in (6, 7):
        (length,) = _U16.unpack_from(raw, offset)
        offset += 2
        data = raw[offset : offset + length]
        if len(data) != length:
            raise InvalidHeader("a header value runs past the header block")
        return (data.decode() if kind == 7 else data), offset + length
    if kind == 9:
        data = raw[offset : offset + _UUID_BYTES]
        if len(data) != _UUID_BYTES:
            raise InvalidHeader("a header value runs past the header block")
        return data, offset + _UUID_BYTES
    fixed = _FIXED.get(kind)
    if fixed is None:
        raise InvalidHeader(f"unknown header value type {kind}")
    (number,) = fixed.unpack_from(raw, offset)
    return int(number), offset + fixed.size
