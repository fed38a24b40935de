"""Translation (pure): Server-Sent Events framing of chunks, errors and the end marker."""

from __future__ import annotations

from typing import Any

import orjson

from gateway.errors import GatewayError

SSE_DONE = b"data: [DONE]\n\n"
SSE_CONTENT_TYPE = "text/event-stream"


def sse_event(obj: Any) -> bytes:
    """One ``data:`` event holding ``obj`` as compact JSON."""
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def sse_error(err: GatewayError) -> bytes:
    """An error after the stream started: the openai SDK raises ``APIError`` from it."""
    return b"data: " + orjson.dumps(err.to_body()) + b"\n\n"
