"""Test support: read the gateway's raw wire output and validate it with the openai SDK's types.

The SDK's client parses leniently; its pydantic types do not, so every body and chunk a test
receives goes through ``model_validate``.
"""

from __future__ import annotations

import base64
import struct
from typing import Any

import httpx2 as httpx
import orjson
from openai.types import CreateEmbeddingResponse
from openai.types.chat import ChatCompletion, ChatCompletionChunk


def validate_completion(body: bytes | dict[str, Any]) -> ChatCompletion:
    data = orjson.loads(body) if isinstance(body, bytes) else body
    return ChatCompletion.model_validate(data)


def validate_embeddings(body: bytes | dict[str, Any]) -> CreateEmbeddingResponse:
    """Base64 vectors are decoded as the SDK does (little-endian float32) before validation."""
    data = orjson.loads(body) if isinstance(body, bytes) else body
    for item in data.get("data", []):
        if isinstance(item.get("embedding"), str):
            raw = base64.b64decode(item["embedding"], validate=True)
            assert len(raw) % 4 == 0
            item["embedding"] = list(struct.unpack(f"<{len(raw) // 4}f", raw))
    return CreateEmbeddingResponse.model_validate(data)


def parse_sse(raw: bytes) -> tuple[list[dict[str, Any]], bool]:
    """The ``data:`` payloads of an SSE body, and whether it ended with ``[DONE]``."""
    events: list[dict[str, Any]] = []
    done = False
    for block in raw.split(b"\n\n"):
        if not block.strip():
            continue
        assert block.startswith(b"data: "), block[:80]
        payload = block[len(b"data: ") :]
        assert not done, "data after [DONE]"
        if payload == b"[DONE]":
            done = True
            continue
        events.append(orjson.loads(payload))
    return events, done


def stream_raw(
    base_url: str, key: str, body: dict[str, Any], headers: dict[str, str] | None = None
) -> tuple[httpx.Response, list[dict[str, Any]], bool]:
    """POST a streamed chat request with httpx; validate every chunk with the SDK's type."""
    with httpx.Client(timeout=30) as http:
        response = http.post(
            f"{base_url}/v1/chat/completions",
            json=body | {"stream": True},
            headers={"Authorization": f"Bearer {key}"} | (headers or {}),
        )
    events, done = parse_sse(response.content)
    for event in events:
        if "error" not in event:
            ChatCompletionChunk.model_validate(event)
    return response, events, done
