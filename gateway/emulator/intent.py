"""Emulator: what a prompt plausibly asks for, so the demo behaves as a user expects.

A real model calls an offered tool when the question needs it and answers JSON when told to;
the emulator approximates both deterministically:

- a tool is *relevant* when a word of its name (``get_weather`` -> ``weather``) or of its
  description appears in the last user text, ignoring case, short words and verbs such as
  "get" or "list" that every tool name carries (so "What's the weather in Paris?" calls
  ``get_weather``, "hello" calls nothing);
- JSON is *asked for* when the system prompt says "JSON object" (the gateway's translation of
  ``response_format`` json_object / json_schema does); the answer is then one JSON object, shaped
  by the schema when the system prompt embeds one.
"""

from __future__ import annotations

import json
import re
from typing import Any

#: Words too common in tool names and descriptions to signal anything.
STOP_WORDS = frozenset(
    [
        "get",
        "set",
        "list",
        "find",
        "fetch",
        "make",
        "call",
        "run",
        "use",
        "show",
        "read",
        "write",
        "create",
        "update",
        "delete",
        "the",
        "and",
        "for",
        "with",
        "from",
        "that",
        "this",
        "into",
        "your",
        "about",
        "tool",
        "function",
        "return",
        "returns",
        "given",
    ]
)
_WORD = re.compile(r"[a-z0-9]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
JSON_ASKED = "json object"
_SCHEMA_MARK = "JSON Schema"


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(_CAMEL.sub(" ", text).lower()) if len(w) >= 4}


def _stem(word: str) -> str:
    """Crude plural / verb-form folding: ``forecasts`` and ``forecast`` meet."""
    for suffix in ("ing", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def tool_keywords(spec: dict[str, Any]) -> set[str]:
    """The stems that make a tool relevant: its name's words, then its description's."""
    words = _words(str(spec.get("name", "")).replace("_", " ").replace("-", " "))
    words |= _words(str(spec.get("description") or ""))
    return {_stem(w) for w in words - STOP_WORDS}


def relevant_tool(specs: list[dict[str, Any]], user_text: str) -> dict[str, Any] | None:
    """The first offered tool named in the text, else the first whose keywords it mentions."""
    lowered = user_text.lower()
    for spec in specs:
        if str(spec.get("name", "")).lower() in lowered:
            return spec
    said = {_stem(w) for w in _words(user_text)}
    for spec in specs:
        if tool_keywords(spec) & said:
            return spec
    return None


def system_text(body: dict[str, Any]) -> str:
    """The instructions: the system blocks, and the first user turn's text, where the gateway
    folds the system prompt for models without system support (Titan Text, Mistral 7B)."""
    blocks = list(body.get("system") or [])
    messages = body.get("messages") or []
    if messages and isinstance(messages[0], dict) and messages[0].get("role") == "user":
        blocks += [b for b in messages[0].get("content") or [] if isinstance(b, dict)]
    return "\n".join(block["text"] for block in blocks if isinstance(block.get("text"), str))


def json_asked(body: dict[str, Any]) -> bool:
    return JSON_ASKED in system_text(body).lower()


def embedded_schema(system: str) -> dict[str, Any] | None:
    """The JSON Schema the system prompt embeds after "JSON Schema ...:", if it parses."""
    mark = system.find(_SCHEMA_MARK)
    start = system.find("{", mark) if mark != -1 else -1
    if start == -1:
        return None
    try:
        schema, _ = json.JSONDecoder().raw_decode(system, start)
    except ValueError:
        return None
    return schema if isinstance(schema, dict) else None
