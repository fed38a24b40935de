"""Test support: the Responses API on the wire, validated with the openai SDK's own types."""

from __future__ import annotations

from typing import Any

import httpx2 as httpx
import orjson
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

EVENTS: TypeAdapter[ResponseStreamEvent] = TypeAdapter(ResponseStreamEvent)


def validate_response(body: bytes | dict[str, Any]) -> Response:
    data = orjson.loads(body) if isinstance(body, bytes) else body
    return Response.model_validate(data)


def parse_events(raw: bytes) -> list[ResponseStreamEvent]:
    """Every SSE block of a Responses stream: ``event:`` names the type of its ``data:``."""
    events: list[ResponseStreamEvent] = []
    for block in raw.split(b"\n\n"):
        if not block.strip():
            continue
        lines = block.split(b"\n")
        assert lines[0].startswith(b"event: "), block[:80]
        assert lines[1].startswith(b"data: "), block[:80]
        data = orjson.loads(lines[1][len(b"data: ") :])
        assert data["type"] == lines[0][len(b"event: ") :].decode()
        events.append(EVENTS.validate_python(data))
    return events


def post_stream(
    base_url: str, key: str, body: dict[str, Any]
) -> tuple[httpx.Response, list[ResponseStreamEvent]]:
    """POST a streamed Responses request with httpx; every event validated."""
    with httpx.Client(timeout=30) as http:
        response = http.post(
            f"{base_url}/v1/responses",
            json=body | {"stream": True},
            headers={"Authorization": f"Bearer {key}"},
        )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    return response, parse_events(response.content)


def event_types(events: list[ResponseStreamEvent]) -> list[str]:
    return [event.type for event in events]
