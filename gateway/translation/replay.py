"""Translation (pure): a Converse answer as the ConverseStream events Bedrock would have sent.

Some models take tools but not tools while streaming (Llama 3.1+, Mistral Large: "This model
doesn't support tool use in streaming mode."). A streamed request with tools to such a model
is served by one Converse call whose answer is replayed through the same stream translator,
so the client still gets SSE chunks in the exact shape (and cache entries) of a real stream.
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["Event", "converse_events"]

Event = tuple[str, dict[str, Any]]


def converse_events(response: dict[str, Any]) -> list[Event]:
    """messageStart, each content block's start/delta/stop, messageStop, metadata."""
    message = (response.get("output") or {}).get("message") or {}
    events: list[Event] = [("messageStart", {"role": "assistant"})]
    for index, block in enumerate(message.get("content") or ()):
        events.extend(_block_events(index, block))
    stop: dict[str, Any] = {"stopReason": response.get("stopReason", "end_turn")}
    extra = response.get("additionalModelResponseFields")
    if extra:
        stop["additionalModelResponseFields"] = extra
    events.append(("messageStop", stop))
    metadata: dict[str, Any] = {
        "usage": response.get("usage") or {"inputTokens": 0, "outputTokens": 0, "totalTokens": 0},
        "metrics": response.get("metrics") or {"latencyMs": 0},
    }
    for served in ("serviceTier", "performanceConfig"):  # what served: the price depends on it
        if served in response:
            metadata[served] = response[served]
    events.append(("metadata", metadata))
    return events


def _block_events(index: int, block: dict[str, Any]) -> list[Event]:
    out: list[Event] = []
    if "text" in block:
        out.append(
            ("contentBlockDelta", {"contentBlockIndex": index, "delta": {"text": block["text"]}})
        )
    elif "toolUse" in block:
        use = block["toolUse"]
        start = {"toolUse": {"toolUseId": use.get("toolUseId", ""), "name": use.get("name", "")}}
        out.append(("contentBlockStart", {"contentBlockIndex": index, "start": start}))
        arguments = orjson.dumps(use.get("input", {})).decode()
        delta = {"toolUse": {"input": arguments}}
        out.append(("contentBlockDelta", {"contentBlockIndex": index, "delta": delta}))
    elif "reasoningContent" in block:
        reasoning = block["reasoningContent"].get("reasoningText") or {}
        for key in ("text", "signature"):
            if reasoning.get(key):
                delta = {"reasoningContent": {key: reasoning[key]}}
                out.append(("contentBlockDelta", {"contentBlockIndex": index, "delta": delta}))
    else:
        return out
    out.append(("contentBlockStop", {"contentBlockIndex": index}))
    return out
