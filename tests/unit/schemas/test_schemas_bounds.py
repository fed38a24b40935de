"""Tests: the count caps of a chat (and a Responses) body, checked before validation
(table-driven)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from gateway.errors import InvalidRequestError
from gateway.schemas.bounds import (
    MAX_TEXT_CHARS,
    RequestBounds,
    check_chat_bytes,
    check_chat_counts,
    check_conversation_length,
    check_responses_counts,
)

BOUNDS = RequestBounds(max_messages=3, max_content_parts=4, max_tools=2)
MSG = {"role": "user", "content": "hi"}
PARTS = {"role": "user", "content": [{"type": "text", "text": "a"}] * 3}
TOOL = {"type": "function", "function": {"name": "f"}}
LONG = "x" * (MAX_TEXT_CHARS + 1)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": [MSG] * 3}, None),
        ({"messages": [MSG] * 4}, "messages"),
        ({"messages": [PARTS]}, None),
        ({"messages": [PARTS, PARTS]}, "messages"),  # 6 parts together
        ({"messages": [MSG], "tools": [TOOL] * 2}, None),
        ({"messages": [MSG], "tools": [TOOL] * 3}, "tools"),
        ({"messages": [MSG], "functions": [{"name": "f"}] * 3}, "functions"),
        ({"messages": "not a list", "tools": {}}, None),  # shapes are pydantic's to refuse
        ({"messages": [1, None, {"content": 5}]}, None),
        ({"messages": [{"role": "user", "content": "x" * MAX_TEXT_CHARS}]}, None),
        ({"messages": [MSG, {"role": "user", "content": LONG}]}, "messages[1].content"),
        (
            {"messages": [{"role": "user", "content": [{"type": "text", "text": LONG}]}]},
            "messages[0].content[0].text",
        ),
    ],
)
def test_counts(body: dict[str, Any], param: str | None) -> None:
    if param is None:
        check_chat_counts(body, BOUNDS)
        return
    with pytest.raises(InvalidRequestError) as info:
        check_chat_counts(body, BOUNDS)
    assert info.value.param == param and info.value.status == 400


@pytest.mark.parametrize(
    ("raw", "refused"),
    [
        (orjson.dumps({"messages": [MSG] * 3}), False),
        (orjson.dumps({"messages": [MSG] * 4}), True),
        # "role" inside a string is escaped, so it does not count
        (orjson.dumps({"messages": [{"role": "user", "content": '"role" ' * 50}]}), False),
        # an escaped key is not seen on the bytes (the decoded count catches it)
        (b'{"messages": [' + b",".join([b'{"\\u0072ole": "user"}'] * 9) + b"]}", False),
    ],
)
def test_raw_bytes_upper_bound(raw: bytes, refused: bool) -> None:
    if not refused:
        check_chat_bytes(raw, BOUNDS)
        return
    with pytest.raises(InvalidRequestError) as info:
        check_chat_bytes(raw, BOUNDS)
    assert info.value.param == "messages"
    assert "maximum length 3" in info.value.message


ITEM_PARTS = {"role": "user", "content": [{"type": "input_text", "text": "a"}] * 3}
OUTPUT_PARTS = {"type": "function_call_output", "call_id": "c", "output": [{"type": "x"}] * 3}
RTOOL = {"type": "function", "name": "f"}


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": "a string is one message"}, None),
        ({"input": [MSG] * 3}, None),
        ({"input": [MSG] * 4}, "input"),
        ({"input": [{"type": "function_call_output", "call_id": "c", "output": "x"}] * 4}, "input"),
        ({"input": [ITEM_PARTS]}, None),
        ({"input": [ITEM_PARTS, ITEM_PARTS]}, "input"),  # 6 parts together
        ({"input": [ITEM_PARTS, OUTPUT_PARTS]}, "input"),  # tool output parts count too
        ({"input": "hi", "tools": [RTOOL] * 2}, None),
        ({"input": "hi", "tools": [RTOOL] * 3}, "tools"),
        ({"input": [1, None, {"content": 5}], "tools": {}}, None),  # shapes: pydantic's
        # the text cap, as on chat: every place a Responses body holds one message's text
        ({"input": "x" * MAX_TEXT_CHARS, "instructions": "x" * MAX_TEXT_CHARS}, None),
        ({"input": LONG}, "input"),
        ({"input": "hi", "instructions": LONG}, "instructions"),
        ({"input": [MSG, {"role": "user", "content": LONG}]}, "input[1].content"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_text", "text": LONG}]}]},
            "input[0].content[0].text",
        ),
        (
            {"input": [{"type": "function_call_output", "call_id": "c", "output": LONG}]},
            "input[0].output",
        ),
        (
            {"input": [OUTPUT_PARTS | {"output": [{"type": "input_text", "text": LONG}]}]},
            "input[0].output[0].text",
        ),
        ({"input": [{"role": "user", "content": [{"type": "input_text", "text": 5}]}]}, None),
    ],
)
def test_responses_counts(body: dict[str, Any], param: str | None) -> None:
    if param is None:
        check_responses_counts(body, BOUNDS)
        return
    with pytest.raises(InvalidRequestError) as info:
        check_responses_counts(body, BOUNDS)
    assert info.value.param == param and info.value.status == 400


def test_raw_bytes_name_the_field_given() -> None:
    with pytest.raises(InvalidRequestError) as info:
        check_chat_bytes(orjson.dumps({"input": [MSG] * 4}), BOUNDS, "input")
    assert info.value.param == "input"


@pytest.mark.parametrize(("messages", "refused"), [(3, False), (4, True)])
def test_conversation_length(messages: int, refused: bool) -> None:
    if not refused:
        check_conversation_length(messages, BOUNDS)
        return
    with pytest.raises(InvalidRequestError) as info:
        check_conversation_length(messages, BOUNDS)
    assert info.value.param == "previous_response_id" and "at most 3" in info.value.message
