"""Translation (pure): Bedrock Converse responses to OpenAI ``chat.completion`` dicts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from gateway.translation.prepared import PreparedConversation

FINISH_REASONS: dict[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "content_filtered": "content_filter",
    "guardrail_intervened": "content_filter",
    "model_context_window_exceeded": "length",
    "malformed_model_output": "stop",
    "malformed_tool_use": "stop",
}
"""Bedrock ``stopReason`` to OpenAI ``finish_reason``; unknown values: ``stop``."""


def finish_reason(stop_reason: str | None, *, tool_calls: bool) -> str:
    """OpenAI finish reason; ``tool_use`` with no real tool call (json_schema mode) is stop."""
    reason = FINISH_REASONS.get(stop_reason or "", "stop")
    if reason == "tool_calls" and not tool_calls:
        return "stop"
    return reason


def usage(bedrock_usage: Mapping[str, Any] | None) -> dict[str, Any]:
    """OpenAI usage from Bedrock's TokenUsage: cache reads and writes count as prompt tokens."""
    u = bedrock_usage or {}
    cached = int(u.get("cacheReadInputTokens") or 0)
    written = int(u.get("cacheWriteInputTokens") or 0)
    prompt = int(u.get("inputTokens") or 0) + cached + written
    completion = int(u.get("outputTokens") or 0)
    details = {"cached_tokens": cached, "audio_tokens": 0}
    if written:
        details["cache_write_tokens"] = written
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": details,
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def served_tier(payload: Mapping[str, Any]) -> str:
    """The Bedrock tier that served (``serviceTier.type`` of a response or metadata event)."""
    tier = (payload.get("serviceTier") or {}).get("type")
    return tier if isinstance(tier, str) and tier else "default"


def served_latency(payload: Mapping[str, Any]) -> str:
    """``performanceConfig.latency`` of a response or metadata event (``standard`` if none)."""
    latency = (payload.get("performanceConfig") or {}).get("latency")
    return latency if isinstance(latency, str) and latency else "standard"


_USAGE_FIELDS = ("inputTokens", "outputTokens", "cacheReadInputTokens", "cacheWriteInputTokens")


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def usage_problem(bedrock_usage: object) -> str | None:
    """Why a TokenUsage is not what Bedrock documents (absent is fine), else None."""
    if bedrock_usage is None:
        return None
    if not isinstance(bedrock_usage, Mapping):
        return "usage is not an object"
    for name in _USAGE_FIELDS:
        if name in bedrock_usage and not _count(bedrock_usage[name]):
            return f"usage.{name} is not a token count"
    return None


def converse_problem(resp: Mapping[str, Any]) -> str | None:
    """Why a Converse answer is not shaped as Bedrock documents it (``output.message.content``
    a list of content blocks, ``stopReason`` a string, ``usage`` token counts), else None."""
    output = resp.get("output")
    message = output.get("message") if isinstance(output, Mapping) else None
    content = message.get("content") if isinstance(message, Mapping) else None
    if not isinstance(content, list):
        return "no output.message.content list"
    for i, block in enumerate(content):
        if not isinstance(block, Mapping):
            return f"output.message.content[{i}] is not an object"
        text, use = block.get("text"), block.get("toolUse")
        if "text" in block and not isinstance(text, str):
            return f"output.message.content[{i}].text is not a string"
        if "toolUse" in block and not (
            isinstance(use, Mapping)
            and isinstance(use.get("toolUseId"), str)
            and isinstance(use.get("name"), str)
        ):
            return f"output.message.content[{i}].toolUse has no toolUseId and name"
        thinking = block.get("reasoningContent")
        if "reasoningContent" in block and not isinstance(thinking, Mapping):
            return f"output.message.content[{i}].reasoningContent is not an object"
    stop = resp.get("stopReason")
    if stop is not None and not isinstance(stop, str):
        return "stopReason is not a string"
    return usage_problem(resp.get("usage"))


def tool_call(tool_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": tool_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def completion_dict(
    *,
    completion_id: str,
    model: str,
    created: int,
    message: dict[str, Any],
    finish: str,
    usage_dict: dict[str, Any],
    service_tier: str = "default",
) -> dict[str, Any]:
    """A ``chat.completion`` around one assistant message (also used by the stream replay)."""
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": usage_dict,
        "service_tier": service_tier,
    }


def chat_completion(
    resp: Mapping[str, Any],
    *,
    completion_id: str,
    model: str,
    created: int,
    prepared: PreparedConversation,
) -> dict[str, Any]:
    """The ``chat.completion`` dict for a Converse response."""
    output = resp.get("output") or {}
    blocks = (output.get("message") or {}).get("content") or ()
    texts: list[str] = []
    reasoning: list[str] = []
    calls: list[dict[str, Any]] = []
    json_tool = prepared.json_tool_name
    for block in blocks:
        if "text" in block:
            texts.append(block["text"])
        elif "toolUse" in block:
            use = block["toolUse"]
            arguments = orjson.dumps(use.get("input") or {}).decode()
            if json_tool is not None and use.get("name") == json_tool:
                texts.append(arguments)
            else:
                calls.append(tool_call(use["toolUseId"], use["name"], arguments))
        elif "reasoningContent" in block:
            text = (block["reasoningContent"].get("reasoningText") or {}).get("text")
            if text:
                reasoning.append(text)
    message: dict[str, Any] = {
        "role": "assistant",
        "content": "".join(texts) if texts or not calls else None,
        "refusal": None,
    }
    if calls:
        message["tool_calls"] = calls
    if reasoning:
        message["reasoning_content"] = "".join(reasoning)
    return completion_dict(
        completion_id=completion_id,
        model=model,
        created=created,
        message=message,
        finish=finish_reason(resp.get("stopReason"), tool_calls=bool(calls)),
        usage_dict=usage(resp.get("usage")),
        service_tier=served_tier(resp),
    )
