"""Emulator: deterministic answers, model ids and stream splitting (pure functions)."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.emulator.answers import GUARDRAIL_REPLY, answer, tool_arguments, tool_use_id
from gateway.emulator.errors import EmulatorError
from gateway.emulator.models import INVALID_MODEL, resolve_model
from gateway.emulator.state import Behaviour
from gateway.emulator.streaming import split_text

BASE = "anthropic.claude-3-haiku-20240307-v1:0"
WEATHER = {
    "toolSpec": {
        "name": "get_weather",
        "inputSchema": {
            "json": {
                "type": "object",
                "properties": {
                    "city": {"type": "string"},
                    "days": {"type": "integer"},
                    "unit": {"type": "string", "enum": ["c", "f"]},
                },
                "required": ["city", "days"],
            }
        },
    }
}
CLOCK = {"toolSpec": {"name": "get_time", "inputSchema": {"json": {"type": "object"}}}}


def _user(text: str, **extra: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": [{"text": text}]}], **extra}


def test_plain_reply_and_usage() -> None:
    result = answer(_user("hello"), BASE, None)
    reply = f"Hello from {BASE}. You said: hello"
    assert result.content() == [{"text": reply}]
    assert result.stop_reason == "end_turn"
    out = -(-len(reply) // 4)
    assert result.usage == {"inputTokens": 2, "outputTokens": out, "totalTokens": 2 + out}


def test_reply_quotes_first_200_chars() -> None:
    result = answer(_user("x" * 500), BASE, None)
    assert result.text is not None and result.text.endswith("x" * 200 + "")
    assert result.text.count("x") == 200


def test_behaviour_reply() -> None:
    result = answer(_user("hi"), BASE, Behaviour(reply="fixed"))
    assert result.text == "fixed"


def test_max_tokens_truncates() -> None:
    result = answer(_user("hi", inferenceConfig={"maxTokens": 2}), BASE, None)
    assert result.text == "Hello fr"
    assert (result.stop_reason, result.usage["outputTokens"]) == ("max_tokens", 2)


def test_stop_sequence() -> None:
    result = answer(_user("hi", inferenceConfig={"stopSequences": ["claude", "from"]}), BASE, None)
    assert (result.text, result.stop_reason) == ("Hello ", "stop_sequence")


def test_guardrail() -> None:
    body = _user(
        "This is FORBIDDEN", guardrailConfig={"guardrailIdentifier": "g", "guardrailVersion": "1"}
    )
    result = answer(body, BASE, None)
    assert (result.text, result.stop_reason) == (GUARDRAIL_REPLY, "guardrail_intervened")


@pytest.mark.parametrize(
    ("choice", "text", "expected_tool", "with_text"),
    [
        ({"any": {}}, "hi", "get_weather", False),
        ({"tool": {"name": "get_time"}}, "hi", "get_time", False),
        ({"auto": {}}, "what is GET_TIME now", "get_time", True),
        (None, "use get_weather", "get_weather", True),
    ],
)
def test_tool_choice(choice: Any, text: str, expected_tool: str, with_text: bool) -> None:
    config: dict[str, Any] = {"tools": [WEATHER, CLOCK]}
    if choice is not None:
        config["toolChoice"] = choice
    result = answer(_user(text, toolConfig=config), BASE, None)
    assert result.tool is not None and result.tool.name == expected_tool
    assert result.stop_reason == "tool_use"
    assert (result.text == f"Calling {expected_tool}.") is with_text
    assert result.tool.tool_use_id == tool_use_id(BASE, text, expected_tool)
    assert len(result.tool.tool_use_id) == len("tooluse_") + 22


def test_auto_without_mention_answers_text() -> None:
    result = answer(_user("hello", toolConfig={"tools": [WEATHER]}), BASE, None)
    assert result.tool is None and result.stop_reason == "end_turn"


def test_tool_arguments_from_schema() -> None:
    assert tool_arguments(WEATHER["toolSpec"]) == {"city": "city-value", "days": 1}
    spec = {
        "inputSchema": {
            "json": {
                "properties": {
                    "a": {"type": "number"},
                    "b": {"type": "boolean"},
                    "c": {"type": "array"},
                    "d": {"type": "object"},
                    "e": {"type": ["null", "string"]},
                }
            }
        }
    }
    assert tool_arguments(spec) == {"a": 1.5, "b": True, "c": [], "d": {}, "e": "e-value"}


def test_behaviour_tool_arguments() -> None:
    body = _user("hi", toolConfig={"tools": [WEATHER], "toolChoice": {"any": {}}})
    result = answer(body, BASE, Behaviour(tool_arguments={"city": "Paris"}))
    assert result.tool is not None and result.tool.input == {"city": "Paris"}


def test_tool_result_reply() -> None:
    body = {
        "messages": [
            {"role": "user", "content": [{"text": "weather?"}]},
            {
                "role": "assistant",
                "content": [{"toolUse": {"toolUseId": "t1", "name": "w", "input": {}}}],
            },
            {
                "role": "user",
                "content": [{"toolResult": {"toolUseId": "t1", "content": [{"json": {"c": 21}}]}}],
            },
        ],
        "toolConfig": {"tools": [WEATHER], "toolChoice": {"any": {}}},
    }
    result = answer(body, BASE, None)
    assert (result.text, result.tool) == ('Tool t1 returned: {"c":21}', None)


@pytest.mark.parametrize(
    ("model_id", "base", "kind"),
    [
        (BASE, BASE, "chat"),
        ("us.anthropic.claude-3-haiku-20240307-v1%3A0", BASE, "chat"),
        ("global.amazon.nova-lite-v1:0", "amazon.nova-lite-v1:0", "chat"),
        (f"arn:aws:bedrock:us-east-1::foundation-model/{BASE}", BASE, "chat"),
        (f"arn%3Aaws%3Abedrock%3Aus-east-1%3A1%3Ainference-profile%2Feu.{BASE}", BASE, "chat"),
        ("amazon.titan-embed-text-v2:0", "amazon.titan-embed-text-v2:0", "titan-v2"),
        ("amazon.titan-embed-text-v1", "amazon.titan-embed-text-v1", "titan-v1"),
        ("cohere.embed-english-v3", "cohere.embed-english-v3", "cohere"),
        ("qwen.qwen3-32b-v1:0", "qwen.qwen3-32b-v1:0", "chat"),
    ],
)
def test_resolve_model(model_id: str, base: str, kind: str) -> None:
    ref = resolve_model(model_id)
    assert (ref.base_id, ref.kind) == (base, kind)


@pytest.mark.parametrize("model_id", ["gpt-4", "acme.model-v1", "us.acme.x", "anthropic.", ""])
def test_invalid_model(model_id: str) -> None:
    with pytest.raises(EmulatorError) as caught:
        resolve_model(model_id)
    assert caught.value.message == INVALID_MODEL


@pytest.mark.parametrize(
    ("text", "pieces", "expected"),
    [
        ("abcdefgh", 3, ["abc", "def", "gh"]),
        ("ab", 8, ["a", "b"]),
        ("", 8, [""]),
        ("abc", 1, ["abc"]),
    ],
)
def test_split_text(text: str, pieces: int, expected: list[str]) -> None:
    assert split_text(text, pieces) == expected


def _turns(ask: str, *called: str) -> dict[str, Any]:
    """A conversation: the ask, then one tool call and its result per name in ``called``."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": [{"text": ask}]}]
    for i, name in enumerate(called):
        use = {"toolUseId": f"t{i}", "name": name, "input": {}}
        result = {"toolUseId": f"t{i}", "content": [{"text": "ok"}]}
        messages.append({"role": "assistant", "content": [{"toolUse": use}]})
        messages.append({"role": "user", "content": [{"toolResult": result}]})
    return {"messages": messages, "toolConfig": {"tools": [WEATHER, CLOCK]}}


@pytest.mark.parametrize(
    ("ask", "called", "next_tool"),
    [
        ("get_weather then get_time", ("get_weather",), "get_time"),
        ("get_weather then get_time", ("get_weather", "get_time"), None),
        ("only get_weather", ("get_weather",), None),
        ("get_time and get_weather", ("get_weather",), "get_time"),
    ],
)
def test_after_a_result_the_next_named_tool_is_called(
    ask: str, called: tuple[str, ...], next_tool: str | None
) -> None:
    result = answer(_turns(ask, *called), BASE, None)
    if next_tool is None:
        assert result.tool is None
        assert result.text is not None and result.text.startswith("Tool t")
    else:
        assert result.tool is not None and result.tool.name == next_tool


def test_tool_use_ids_differ_per_turn_of_one_conversation() -> None:
    ask = "get_weather then get_time"
    first = answer(_turns(ask), BASE, None).tool
    second = answer(_turns(ask, "get_weather"), BASE, None).tool
    assert first is not None and second is not None
    assert first.tool_use_id != second.tool_use_id
    assert answer(_turns(ask), BASE, None).tool == first  # still deterministic


@pytest.mark.parametrize(
    ("fields", "thinks"),
    [
        ({"thinking": {"type": "enabled", "budget_tokens": 1024}}, True),
        ({"thinking": {"type": "disabled"}}, False),
        ({}, False),
    ],
)
def test_extended_thinking_comes_first(fields: dict[str, Any], thinks: bool) -> None:
    result = answer(_user("ponder", additionalModelRequestFields=fields), BASE, None)
    blocks = result.content()
    assert ("reasoningContent" in blocks[0]) is thinks
    plain = answer(_user("ponder"), BASE, None)
    assert result.text == plain.text
    if thinks:
        reasoning = blocks[0]["reasoningContent"]["reasoningText"]
        assert reasoning["text"] == "Thinking about: ponder" and reasoning["signature"]
        assert result.usage["outputTokens"] > plain.usage["outputTokens"]
