"""Shadow layer (pure): how far a shadow model's answer agrees with the primary's."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class Answer:
    """What a ``chat.completion`` says: its text and its tool calls (name, canonical args)."""

    text: str
    tool_calls: tuple[tuple[str, str], ...]
    finish_reason: str | None

    @property
    def for_embedding(self) -> str:
        """The text whose embedding stands for the answer (text, then the tool calls)."""
        calls = " ".join(f"{name}({args})" for name, args in self.tool_calls)
        return " ".join(part for part in (self.text, calls) if part)


@dataclass(frozen=True, slots=True)
class Agreement:
    """One comparison. None means the check does not apply to this pair of answers."""

    exact: bool
    tool_calls: bool | None
    json_valid: bool | None
    primary_json_valid: bool | None
    length_ratio: float | None
    cosine: float | None = None


def canonical_arguments(arguments: str) -> str:
    """Tool arguments with keys sorted and no whitespace (unparseable text kept as is)."""
    try:
        value = orjson.loads(arguments or "{}")
    except orjson.JSONDecodeError:
        return arguments.strip()
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def answer_of(completion: Mapping[str, Any]) -> Answer:
    """The first choice's text and tool calls."""
    choices = completion.get("choices") or [{}]
    choice = choices[0] or {}
    message = choice.get("message") or {}
    calls = []
    for call in message.get("tool_calls") or ():
        function = call.get("function") or {}
        calls.append(
            (str(function.get("name", "")), canonical_arguments(function.get("arguments", "")))
        )
    return Answer(str(message.get("content") or ""), tuple(calls), choice.get("finish_reason"))


def is_json(text: str) -> bool:
    """The text is one JSON value (surrounding whitespace and a code fence allowed)."""
    body = text.strip()
    if body.startswith("```"):
        body = body.strip("`").removeprefix("json").strip()
    if not body:
        return False
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    return True


def cosine(left: Sequence[float], right: Sequence[float]) -> float | None:
    """Cosine similarity; None for empty, mismatched or zero vectors."""
    if not left or len(left) != len(right):
        return None
    dot = math.fsum(a * b for a, b in zip(left, right, strict=True))
    norm = math.sqrt(math.fsum(a * a for a in left)) * math.sqrt(math.fsum(b * b for b in right))
    if norm == 0.0:
        return None
    return max(-1.0, min(1.0, dot / norm))


def compare(primary: Answer, shadow: Answer, *, json_mode: str | None) -> Agreement:
    """Exact match (same text and tool calls), tool-call agreement (when either called a tool:
    the same functions with the same arguments, in order), JSON validity (when JSON was asked
    for), and the shadow's length relative to the primary's (characters of text)."""
    tools = None
    if primary.tool_calls or shadow.tool_calls:
        tools = primary.tool_calls == shadow.tool_calls
    json_valid = primary_json = None
    if json_mode is not None:
        json_valid, primary_json = is_json(shadow.text), is_json(primary.text)
    ratio = None
    if primary.text:
        ratio = len(shadow.text) / len(primary.text)
    return Agreement(
        exact=primary.text.strip() == shadow.text.strip()
        and primary.tool_calls == shadow.tool_calls,
        tool_calls=tools,
        json_valid=json_valid,
        primary_json_valid=primary_json,
        length_ratio=ratio,
    )
