"""Emulator: when a prompt plausibly needs an offered tool, and JSON when JSON was asked for."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway.emulator.answers import answer
from gateway.emulator.intent import embedded_schema, relevant_tool, tool_keywords

WEATHER = {"name": "get_weather", "description": "Current weather for a city"}
STOCKS = {"name": "lookupStockPrice", "description": "Latest price of a share"}
SEARCH = {"name": "search_docs"}
BASE = "amazon.nova-lite-v1:0"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("What's the weather in Paris?", "get_weather"),
        ("which city is warmest", "get_weather"),
        ("call get_weather now", "get_weather"),
        ("How are AMZN shares doing?", "lookupStockPrice"),
        ("the stock went up", "lookupStockPrice"),
        ("please search the docs for tokens", "search_docs"),
        ("hello", None),
        ("get me a list", None),  # stop words alone call nothing
        ("", None),
    ],
)
def test_relevant_tool(text: str, expected: str | None) -> None:
    spec = relevant_tool([WEATHER, STOCKS, SEARCH], text)
    assert (spec["name"] if spec else None) == expected


def test_tool_keywords_drop_stop_words_and_short_words() -> None:
    assert tool_keywords(WEATHER) == {"weather", "current", "city"}
    assert tool_keywords({"name": "get_it"}) == set()


@pytest.mark.parametrize(
    ("system", "expected"),
    [
        (
            'Respond with JSON. JSON Schema (named x): {"type": "object"} trailing',
            {"type": "object"},
        ),
        ('JSON Schema (named x): {"a": {"b": [1, 2]}}', {"a": {"b": [1, 2]}}),
        ("JSON Schema (named x): {not json", None),
        ("no schema here", None),
        ("JSON Schema (named x): [1]", None),
    ],
)
def test_embedded_schema(system: str, expected: dict[str, Any] | None) -> None:
    assert embedded_schema(system) == expected


def _body(system: str | None, text: str = "hi") -> dict[str, Any]:
    body: dict[str, Any] = {"messages": [{"role": "user", "content": [{"text": text}]}]}
    if system is not None:
        body["system"] = [{"text": system}]
    return body


ASK = "Respond with a single valid JSON object and nothing else."
SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}, "s": {"type": "string"}}}


@pytest.mark.parametrize(
    ("system", "expected"),
    [
        (ASK, {"answer": f"Hello from {BASE}. You said: hi"}),
        (
            f"{ASK} The object must conform to this JSON Schema (named t): {json.dumps(SCHEMA)}",
            {"n": 1, "s": "s-value"},
        ),
        (
            f"{ASK} JSON Schema (named t): " + '{"type": "array"}',
            {"answer": f"Hello from {BASE}. You said: hi"},
        ),
    ],
)
def test_json_asked_answers_one_json_object(system: str, expected: dict[str, Any]) -> None:
    result = answer(_body(system), BASE, None)
    assert result.text is not None and json.loads(result.text) == expected


def test_plain_prompt_stays_plain_text() -> None:
    assert answer(_body(None), BASE, None).text == f"Hello from {BASE}. You said: hi"
    assert answer(_body("Be brief."), BASE, None).text == f"Hello from {BASE}. You said: hi"
