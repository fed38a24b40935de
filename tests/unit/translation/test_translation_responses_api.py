"""The Responses API translation (pure): requests to chat bodies, chat answers to response
objects and stream events; everything validated with the openai SDK's own types."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from gateway.errors import InvalidRequestError
from gateway.schemas.parse import check_extras, parse_chat_request, parse_responses_request
from gateway.schemas.responses import stored_items
from gateway.translation.responses_in import chat_body
from gateway.translation.responses_out import (
    input_item_records,
    request_echo,
    response_from_completion,
)
from gateway.translation.responses_stream import ResponsesStream, sse_events

EVENTS: TypeAdapter[ResponseStreamEvent] = TypeAdapter(ResponseStreamEvent)
TOOL = {"type": "function", "name": "get_weather", "parameters": {"type": "object"}}
CHAT_TOOL = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object"}},
}
CALL = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}

# (name, Responses request, expected chat body minus "model")
REQUESTS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("string input", {"input": "hi"}, {"messages": [{"role": "user", "content": "hi"}]}),
    (
        "instructions first",
        {"input": "hi", "instructions": "be brief"},
        {
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": "hi"},
            ]
        },
    ),
    (
        "parts and image",
        {
            "input": [
                {
                    "role": "user",
                    "content": [
                        {"type": "input_text", "text": "look"},
                        {
                            "type": "input_image",
                            "image_url": "data:image/png;base64,AA==",
                            "detail": "low",
                        },
                    ],
                }
            ]
        },
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "look"},
                        {
                            "type": "image_url",
                            "image_url": {"url": "data:image/png;base64,AA==", "detail": "low"},
                        },
                    ],
                }
            ]
        },
    ),
    (
        "assistant output text and developer message",
        {
            "input": [
                {"role": "developer", "content": [{"type": "input_text", "text": "dev"}]},
                {
                    "type": "message",
                    "role": "assistant",
                    "id": "msg_1",
                    "status": "completed",
                    "content": [{"type": "output_text", "text": "before", "annotations": []}],
                },
                {"role": "user", "content": "now"},
            ]
        },
        {
            "messages": [
                {"role": "developer", "content": "dev"},
                {"role": "assistant", "content": "before"},
                {"role": "user", "content": "now"},
            ]
        },
    ),
    (
        "function calls merge into one assistant turn; reasoning dropped",
        {
            "input": [
                {"role": "user", "content": "go"},
                {"type": "reasoning", "id": "rs_1", "summary": []},
                {
                    "type": "function_call",
                    "call_id": "call_1",
                    "name": "get_weather",
                    "arguments": "{}",
                },
                {
                    "type": "function_call",
                    "call_id": "call_2",
                    "name": "get_weather",
                    "arguments": "{}",
                },
                {"type": "function_call_output", "call_id": "call_1", "output": "sun"},
                {
                    "type": "function_call_output",
                    "call_id": "call_2",
                    "output": [{"type": "input_text", "text": "rain"}],
                },
            ]
        },
        {
            "messages": [
                {"role": "user", "content": "go"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [CALL, CALL | {"id": "call_2"}],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": "sun"},
                {"role": "tool", "tool_call_id": "call_2", "content": "rain"},
            ]
        },
    ),
    (
        "tools, named choice, json_schema, sampling, reasoning, stream",
        {
            "input": "x",
            "tools": [TOOL],
            "tool_choice": {"type": "function", "name": "get_weather"},
            "text": {
                "format": {
                    "type": "json_schema",
                    "name": "w",
                    "schema": {"type": "object"},
                    "strict": True,
                }
            },
            "max_output_tokens": 50,
            "temperature": 0.5,
            "top_p": 0.9,
            "parallel_tool_calls": False,
            "reasoning": {"effort": "low"},
            "user": "u1",
            "stream": True,
        },
        {
            "messages": [{"role": "user", "content": "x"}],
            "tools": [CHAT_TOOL],
            "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "w", "schema": {"type": "object"}, "strict": True},
            },
            "max_completion_tokens": 50,
            "temperature": 0.5,
            "top_p": 0.9,
            "parallel_tool_calls": False,
            "user": "u1",
            "reasoning_effort": "low",
            "stream": True,
            "stream_options": {"include_usage": True},
        },
    ),
    (
        "json_object and required",
        {
            "input": "x",
            "tools": [TOOL],
            "tool_choice": "required",
            "text": {"format": {"type": "json_object"}},
        },
        {
            "messages": [{"role": "user", "content": "x"}],
            "tools": [CHAT_TOOL],
            "tool_choice": "required",
            "response_format": {"type": "json_object"},
        },
    ),
    (
        "levers as chat takes them",
        {"input": "x", "service_tier": "flex", "prompt_cache_key": "k", "safety_identifier": "s"},
        {
            "messages": [{"role": "user", "content": "x"}],
            "service_tier": "flex",
            "prompt_cache_key": "k",
            "safety_identifier": "s",
        },
    ),
]


@pytest.mark.parametrize(("name", "request_", "expected"), REQUESTS, ids=[r[0] for r in REQUESTS])
def test_request_to_chat_body(
    name: str, request_: dict[str, Any], expected: dict[str, Any]
) -> None:
    req = parse_responses_request({"model": "m"} | request_)
    body = chat_body(req)
    assert body == {"model": "m"} | expected
    parse_chat_request(body)  # the chat pipeline accepts it


def test_history_comes_before_the_new_input_and_instructions_before_both() -> None:
    history = stored_items(
        [
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "a"}],
                "id": "m1",
            },
            {
                "type": "message",
                "role": "assistant",
                "id": "m2",
                "status": "completed",
                "content": [{"type": "output_text", "text": "b", "annotations": []}],
            },
        ]
    )
    req = parse_responses_request({"model": "m", "input": "c", "instructions": "sys"})
    assert [m["content"] for m in chat_body(req, history)["messages"]] == [
        "sys",
        [{"type": "text", "text": "a"}],
        "b",
        "c",
    ]


IMAGE = {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo="}
TEXT = {"type": "input_text", "text": "t"}
REFUSAL = {"type": "refusal", "refusal": "no"}


def _output(parts: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "function_call_output", "call_id": "c", "output": parts}


REFUSED: list[tuple[dict[str, Any], str]] = [
    ({"tools": [{"type": "web_search"}]}, "tools[0].type"),
    ({"tools": [TOOL, {"type": "mcp", "server_label": "x"}]}, "tools[1].type"),
    ({"tool_choice": {"type": "file_search"}}, "tool_choice.type"),
    ({"background": True}, "background"),
    ({"truncation": "auto"}, "truncation"),
    ({"max_tool_calls": 3}, "max_tool_calls"),
    ({"top_logprobs": 2}, "top_logprobs"),
    ({"include": ["web_search_call.action.sources"]}, "include"),
    ({"conversation": {"id": "c"}}, "conversation"),
    ({"input": [{"type": "item_reference", "id": "x"}]}, "input[0].type"),
    (
        {"input": [{"role": "user", "content": [{"type": "input_audio"}]}]},
        "input[0].content[0].type",
    ),
    ({"context_management": [{"type": "compaction"}]}, "context_management"),
    ({"prompt_cache_retention": "24h"}, "prompt_cache_retention"),
    # parts the translation would drop are refused, never lost silently
    ({"input": [{"role": "system", "content": [IMAGE]}]}, "input[0].content[0].type"),
    ({"input": [{"role": "developer", "content": [TEXT, IMAGE]}]}, "input[0].content[1].type"),
    ({"input": [{"role": "assistant", "content": [IMAGE]}]}, "input[0].content[0].type"),
    ({"input": [_output([TEXT, IMAGE])]}, "input[0].output[1].type"),
    ({"input": [_output([{"type": "input_file", "file_id": "f"}])]}, "input[0].output[0].type"),
    ({"input": [{"role": "user", "content": [REFUSAL]}]}, "input[0].content[0].type"),
    ({"unknown": 1}, "unknown"),
    ({"tool_choice": " o"}, "tool_choice"),  # found by the fuzzer: was a 500
    ({"tools": ["x"]}, "tools[0]"),
    ({"input": ["x"]}, "input[0]"),
    ({"input": [1]}, "input[0]"),
    ({"input": []}, "input"),
    ({"max_output_tokens": 0}, "max_output_tokens"),
    (
        {"input": [{"type": "function_call", "call_id": "c", "name": "bad name", "arguments": ""}]},
        "input[0].name",
    ),
]


@pytest.mark.parametrize(
    ("extra", "param"), REFUSED, ids=[r[1] + str(i) for i, r in enumerate(REFUSED)]
)
def test_refusals_name_the_field(extra: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequestError) as err:
        req = parse_responses_request({"model": "m", "input": "hi"} | extra)
        check_extras(req.extras, ())  # a gateway whose routes allow no extra field
    assert err.value.param == param


def test_unknown_fields_are_kept_aside_for_the_route() -> None:
    req = parse_responses_request({"model": "m", "input": "hi", "top_k": 5, "min_p": 0.1})
    assert req.extras == {"top_k": 5, "min_p": 0.1}
    assert "top_k" not in chat_body(req)  # never read as a chat field: only the route's lever


def test_parts_are_kept_where_they_reach_the_model() -> None:
    """The counterpart of the refused parts: images of user messages, refusals and text of
    the other places."""
    req = parse_responses_request(
        {
            "model": "m",
            "input": [
                {"role": "user", "content": [TEXT, IMAGE]},
                {"role": "assistant", "content": [REFUSAL]},
                {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
                _output([TEXT, REFUSAL]),
            ],
        }
    )
    user, assistant, tool = chat_body(req)["messages"]  # the call joins the assistant turn
    assert [part["type"] for part in user["content"]] == ["text", "image_url"]
    assert (assistant["content"], tool["content"]) == ("no", "tno")


def test_accepted_without_effect() -> None:
    req = parse_responses_request(
        {
            "model": "m",
            "input": "hi",
            "truncation": "disabled",
            "include": ["reasoning.encrypted_content"],
            "store": False,
            "service_tier": "auto",
            "safety_identifier": "s",
            "prompt_cache_key": "k",
            "stream_options": {"include_obfuscation": False},
            "text": {"verbosity": "low"},
        }
    )
    assert req.store is False


def _ids() -> Any:
    counter = itertools.count()
    return lambda prefix: f"{prefix}{next(counter)}"


def _completion(message: dict[str, Any], finish: str = "stop") -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "anthropic.claude",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "refusal": None} | message,
                "finish_reason": finish,
            }
        ],
        "usage": {
            "prompt_tokens": 10,
            "completion_tokens": 5,
            "total_tokens": 15,
            "prompt_tokens_details": {"cached_tokens": 4},
        },
    }


ECHO = request_echo(parse_responses_request({"model": "m", "input": "hi", "tools": [TOOL]}))

# (name, chat message, finish, expected output item types, status)
ANSWERS: list[tuple[str, dict[str, Any], str, list[str], str]] = [
    ("text", {"content": "hello"}, "stop", ["message"], "completed"),
    (
        "tool calls only",
        {"content": None, "tool_calls": [CALL, CALL | {"id": "call_2"}]},
        "tool_calls",
        ["function_call", "function_call"],
        "completed",
    ),
    (
        "text then tool",
        {"content": "Calling.", "tool_calls": [CALL]},
        "tool_calls",
        ["message", "function_call"],
        "completed",
    ),
    (
        "reasoning",
        {"content": "a", "reasoning_content": "thinking"},
        "stop",
        ["reasoning", "message"],
        "completed",
    ),
    ("cut", {"content": "trunc"}, "length", ["message"], "incomplete"),
    ("filtered", {"content": ""}, "content_filter", ["message"], "incomplete"),
]


@pytest.mark.parametrize(
    ("name", "message", "finish", "types", "status"), ANSWERS, ids=[a[0] for a in ANSWERS]
)
def test_completion_to_response(
    name: str, message: dict[str, Any], finish: str, types: list[str], status: str
) -> None:
    body = response_from_completion(
        _completion(message, finish), response_id="resp_1", created_at=5, echo=ECHO, new_id=_ids()
    )
    response = Response.model_validate(body)
    assert [item.type for item in response.output] == types
    assert response.status == status
    assert response.usage is not None
    assert (
        response.usage.input_tokens,
        response.usage.output_tokens,
        response.usage.total_tokens,
    ) == (10, 5, 15)
    assert response.usage.input_tokens_details.cached_tokens == 4
    assert len({item.id for item in response.output}) == len(types)
    calls = [item for item in response.output if item.type == "function_call"]
    assert [c.call_id for c in calls] == [c["id"] for c in message.get("tool_calls") or []]


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


# (name, chunks, expected event types between response.in_progress and the terminal event)
STREAMS: list[tuple[str, list[dict[str, Any]], list[str]]] = [
    (
        "text",
        [
            _chunk({"role": "assistant", "content": ""}),
            _chunk({"content": "Hel"}),
            _chunk({"content": "lo"}),
            _chunk({}, "stop"),
        ],
        [
            "output_item.added",
            "content_part.added",
            "output_text.delta",
            "output_text.delta",
            "output_text.done",
            "content_part.done",
            "output_item.done",
        ],
    ),
    (
        "reasoning then text",
        [_chunk({"reasoning_content": "hmm"}), _chunk({"content": "A"})],
        [
            "output_item.added",
            "reasoning_summary_part.added",
            "reasoning_summary_text.delta",
            "reasoning_summary_text.done",
            "reasoning_summary_part.done",
            "output_item.done",
            "output_item.added",
            "content_part.added",
            "output_text.delta",
            "output_text.done",
            "content_part.done",
            "output_item.done",
        ],
    ),
    (
        "two tool calls",
        [
            _chunk(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "c1",
                            "type": "function",
                            "function": {"name": "f", "arguments": ""},
                        }
                    ]
                }
            ),
            _chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"a":'}}]}),
            _chunk({"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}),
            _chunk(
                {
                    "tool_calls": [
                        {
                            "index": 1,
                            "id": "c2",
                            "type": "function",
                            "function": {"name": "g", "arguments": ""},
                        }
                    ]
                }
            ),
            _chunk({}, "tool_calls"),
        ],
        [
            "output_item.added",
            "function_call_arguments.delta",
            "function_call_arguments.delta",
            "function_call_arguments.done",
            "output_item.done",
            "output_item.added",
            "function_call_arguments.delta",
            "function_call_arguments.done",
            "output_item.done",
        ],
    ),
    (
        "empty answer",
        [_chunk({"role": "assistant", "content": ""})],
        [
            "output_item.added",
            "content_part.added",
            "output_text.done",
            "content_part.done",
            "output_item.done",
        ],
    ),
]


@pytest.mark.parametrize(("name", "chunks", "middle"), STREAMS, ids=[s[0] for s in STREAMS])
def test_stream_events(name: str, chunks: list[dict[str, Any]], middle: list[str]) -> None:
    stream = ResponsesStream(
        response_id="resp_1", created_at=5, model="m", echo=ECHO, new_id=_ids()
    )
    events = [e for chunk in chunks for e in stream.feed([chunk])]
    closing, final = stream.finish(_completion({"content": "x"}))
    events += closing
    parsed = [EVENTS.validate_python(e) for e in events]
    types = [e.type.removeprefix("response.") for e in parsed]
    assert types == ["created", "in_progress", *middle, "completed"]
    assert [e.sequence_number for e in parsed] == list(range(len(parsed)))
    response = Response.model_validate(final)
    assert response.status == "completed" and response.usage is not None
    done = [e for e in parsed if e.type == "response.output_item.done"]
    assert [e.item.model_dump() for e in done] == [i.model_dump() for i in response.output]
    args = [e for e in parsed if e.type == "response.function_call_arguments.done"]
    deltas = [e for e in parsed if e.type == "response.function_call_arguments.delta"]
    for arg in args:
        assert arg.arguments == "".join(d.delta for d in deltas if d.item_id == arg.item_id)
    wire = sse_events(events[:1])
    assert wire.startswith(b"event: response.created\ndata: {") and wire.endswith(b"\n\n")


def test_a_cut_stream_ends_incomplete_and_a_broken_one_failed() -> None:
    stream = ResponsesStream(response_id="r", created_at=5, model="m", echo=ECHO, new_id=_ids())
    stream.feed([_chunk({"content": "abc"})])
    events, final = stream.finish(_completion({"content": "abc"}, "length"))
    assert events[-1]["type"] == "response.incomplete"
    assert final["incomplete_details"] == {"reason": "max_output_tokens"}
    broken = ResponsesStream(response_id="r", created_at=5, model="m", echo=ECHO, new_id=_ids())
    [created, in_progress, failed] = broken.fail("server_error", "Bedrock's stream broke.")
    parsed = EVENTS.validate_python(failed)
    assert parsed.type == "response.failed"
    assert parsed.response.error is not None and parsed.response.error.code == "server_error"
    assert (
        created["sequence_number"],
        in_progress["sequence_number"],
        failed["sequence_number"],
    ) == (0, 1, 2)


def test_input_item_records_get_ids_and_statuses() -> None:
    records = input_item_records(
        [
            {"type": "message", "role": "user", "content": "hi"},
            {"role": "assistant", "content": "yo"},
            {"type": "function_call_output", "call_id": "c", "output": "o"},
            {
                "type": "message",
                "role": "user",
                "id": "msg_given",
                "content": [{"type": "input_text", "text": "x"}],
            },
        ],
        _ids(),
    )
    assert [r["id"] for r in records] == ["msg_0", "msg_1", "fco_2", "msg_given"]
    assert records[0]["content"] == [{"type": "input_text", "text": "hi"}]
    assert records[1]["content"][0]["type"] == "output_text"
    assert all(r["status"] == "completed" for r in records)


@pytest.mark.parametrize(("served", "written"), [(None, 0), ("flex", 7)])
def test_served_tier_and_cache_writes_are_shown(served: str | None, written: int) -> None:
    completion = _completion({"content": "hi"})
    completion["usage"]["prompt_tokens_details"]["cache_write_tokens"] = written
    if served is not None:
        completion["service_tier"] = served
    body = response_from_completion(
        completion, response_id="resp_1", created_at=5, echo=ECHO, new_id=_ids()
    )
    response = Response.model_validate(body)
    assert response.service_tier == served
    assert response.usage is not None
    assert body["usage"]["input_tokens_details"]["cache_write_tokens"] == written
