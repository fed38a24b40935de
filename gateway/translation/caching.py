"""Translation (pure): where Bedrock prompt-caching ``cachePoint`` blocks go in a body.

Bedrock reads a prompt in the order tools, system, messages, and caches the prefix ending at
a cache point. Points are placed after the tool definitions, after the system prompt, and in
a growing conversation after the previous user turn (the part the last request already sent,
which that request wrote to the cache) and after the last user turn (written now, read by
the next turn). A point is placed only where the prefix since the previous point reaches the
model's minimum tokens per cache point (a shorter one is not cached by Bedrock and would
only use up one of the few points), and never more than the model's maximum.
"""

from __future__ import annotations

from math import ceil
from typing import Any

import orjson

from gateway.capabilities import PromptCaching
from gateway.translation.messages import IMAGE_TOKENS

Block = dict[str, Any]
CACHE_POINT: Block = {"cachePoint": {"type": "default"}}


def block_tokens(block: Block) -> int:
    """Estimated tokens of one content, system or tool block (characters / 4, as elsewhere)."""
    if "text" in block:
        return ceil(len(block["text"]) / 4)
    if "image" in block:
        return IMAGE_TOKENS
    if "toolUse" in block:
        use = block["toolUse"]
        return ceil((len(use.get("name", "")) + len(orjson.dumps(use.get("input")))) / 4)
    if "toolResult" in block:
        return ceil(len(orjson.dumps(block["toolResult"].get("content"))) / 4)
    if "toolSpec" in block:
        spec = block["toolSpec"]
        size = len(spec.get("name", "")) + len(spec.get("description") or "")
        return ceil((size + len(orjson.dumps(spec.get("inputSchema", {}).get("json")))) / 4)
    return 0  # documents are not counted: a point after one is placed only if text suffices


def _user_turns(messages: list[Block]) -> list[int]:
    return [i for i, m in enumerate(messages) if m["role"] == "user"]


def add_cache_points(body: dict[str, Any], caching: PromptCaching) -> int:
    """Add cache points to ``body`` in place (new lists: the prepared ones are shared);
    returns how many were placed."""
    placed = 0
    since = 0  # tokens since the previous point
    tool_config = body.get("toolConfig")
    if tool_config is not None:
        since += sum(block_tokens(t) for t in tool_config["tools"])
        if "tools" in caching.fields and caching.max_points > 0 and since >= caching.min_tokens:
            body["toolConfig"] = {**tool_config, "tools": [*tool_config["tools"], CACHE_POINT]}
            placed, since = 1, 0
    system = body.get("system")
    if system:
        since += sum(block_tokens(b) for b in system)
        if (
            "system" in caching.fields
            and placed < caching.max_points
            and since >= caching.min_tokens
        ):
            body["system"] = [*system, CACHE_POINT]
            placed, since = placed + 1, 0
    if "messages" not in caching.fields:
        return placed
    messages = list(body["messages"])
    users = set(_user_turns(messages)[-2:])
    for i, message in enumerate(messages):
        since += sum(block_tokens(b) for b in message["content"])
        if i in users and placed < caching.max_points and since >= caching.min_tokens:
            messages[i] = {**message, "content": [*message["content"], CACHE_POINT]}
            placed, since = placed + 1, 0
    body["messages"] = messages
    return placed
