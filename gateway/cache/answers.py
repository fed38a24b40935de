"""Cache: a stored answer, and its replay as a plain completion or as the original stream.

A streamed miss stores the deltas exactly as they were sent, so a streamed hit replays the
same chunking; a plain miss stores the completion, which a streamed hit replays in pieces.
Either kind of entry answers either kind of request.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

import orjson

ENTRY_FORMAT = 1
MAX_ENTRY_BYTES = 1024 * 1024  # compressed; larger answers are not cached
_REPLAY_PIECES = 8

Delta = dict[str, Any]  # {"delta": {...}, "finish_reason": ...}


@dataclass(frozen=True)
class CachedAnswer:
    completion: dict[str, Any]
    deltas: list[Delta] | None
    model: str
    bedrock_id: str


def encode_answer(answer: CachedAnswer) -> bytes | None:
    """Compressed bytes, or None when the entry is over the size cap."""
    raw = orjson.dumps(
        {
            "f": ENTRY_FORMAT,
            "completion": answer.completion,
            "deltas": answer.deltas,
            "model": answer.model,
            "bedrock_id": answer.bedrock_id,
        }
    )
    packed = zlib.compress(raw, 3)
    return packed if len(packed) <= MAX_ENTRY_BYTES else None


def decode_answer(packed: bytes) -> CachedAnswer | None:
    """The stored answer, or None for an entry that is corrupt or of another format."""
    try:
        data = orjson.loads(zlib.decompress(packed))
    except (zlib.error, orjson.JSONDecodeError):
        return None
    if not isinstance(data, dict) or data.get("f") != ENTRY_FORMAT:
        return None
    return CachedAnswer(data["completion"], data["deltas"], data["model"], data["bedrock_id"])


def replay_completion(answer: CachedAnswer, *, completion_id: str, created: int) -> dict[str, Any]:
    return answer.completion | {"id": completion_id, "created": created}


def replay_deltas(answer: CachedAnswer) -> list[Delta]:
    """The deltas to stream: the stored ones, or pieces of a stored plain completion."""
    if answer.deltas is not None:
        return answer.deltas
    choice = answer.completion["choices"][0]
    message = choice["message"]
    deltas: list[Delta] = [{"delta": {"role": "assistant", "content": ""}, "finish_reason": None}]
    text = message.get("content") or ""
    step = max(1, -(-len(text) // _REPLAY_PIECES))
    for start in range(0, len(text), step):
        deltas.append({"delta": {"content": text[start : start + step]}, "finish_reason": None})
    for index, call in enumerate(message.get("tool_calls") or ()):
        first = {
            "index": index,
            "id": call["id"],
            "type": "function",
            "function": {"name": call["function"]["name"], "arguments": ""},
        }
        rest = {"index": index, "function": {"arguments": call["function"]["arguments"]}}
        deltas.append({"delta": {"tool_calls": [first]}, "finish_reason": None})
        deltas.append({"delta": {"tool_calls": [rest]}, "finish_reason": None})
    deltas.append({"delta": {}, "finish_reason": choice.get("finish_reason") or "stop"})
    return deltas


def replay_chunks(
    answer: CachedAnswer, *, completion_id: str, created: int, include_usage: bool
) -> list[dict[str, Any]]:
    base = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": answer.completion.get("model", answer.bedrock_id),
    }
    usage_field = {"usage": None} if include_usage else {}
    chunks = [
        base
        | {
            "choices": [
                {
                    "index": 0,
                    "delta": d["delta"],
                    "logprobs": None,
                    "finish_reason": d.get("finish_reason"),
                }
            ]
        }
        | usage_field
        for d in replay_deltas(answer)
    ]
    if include_usage:
        usage = answer.completion.get("usage")
        if usage is not None:  # a hit is not billed: its real cost is 0 (as for a live stream)
            usage = {**usage, "cost_usd": 0.0}
        tier = answer.completion.get("service_tier", "default")
        chunks.append(base | {"choices": [], "usage": usage, "service_tier": tier})
    return chunks
