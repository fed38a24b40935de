"""Unit: cache keys, cacheability and the replay of stored answers (table-driven, pure)."""

from __future__ import annotations

from typing import Any

import pytest
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from gateway.cache.answers import (
    CachedAnswer,
    decode_answer,
    encode_answer,
    replay_chunks,
    replay_completion,
)
from gateway.cache.keys import cache_key, directive, is_cacheable
from gateway.schemas.parse import parse_chat_request

BASE: dict[str, Any] = {"model": "haiku", "messages": [{"role": "user", "content": "hi"}]}


def req(**extra: Any) -> Any:
    return parse_chat_request(BASE | extra)


@pytest.mark.parametrize(
    ("extra", "when", "expected"),
    [
        ({}, "deterministic", False),
        ({"temperature": 0}, "deterministic", True),
        ({"temperature": 0.7}, "deterministic", False),
        ({"seed": 7, "temperature": 0.7}, "deterministic", True),
        ({}, "always", True),
        ({"temperature": 0}, "never", False),
    ],
)
def test_is_cacheable(extra: dict[str, Any], when: Any, expected: bool) -> None:
    assert is_cacheable(req(**extra), when) is expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "default"),
        ("", "default"),
        ("max-age=0", "default"),
        ("no-cache", "no-cache"),
        ("No-Cache, max-age=0", "no-cache"),
        ("no-store", "no-store"),
        ("no-cache, no-store", "no-store"),
    ],
)
def test_directive(header: str | None, expected: str) -> None:
    assert directive(header) == expected


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ({}, {}, True),
        ({}, {"stream": True}, True),  # a streamed and a plain request share the answer
        ({}, {"stream": True, "stream_options": {"include_usage": True}}, True),
        ({}, {"user": "someone"}, True),
        ({}, {"temperature": 0}, False),
        ({}, {"max_tokens": 5}, False),
        ({}, {"stop": ["x"]}, False),
        ({}, {"model": "other"}, False),
        ({}, {"messages": [{"role": "user", "content": "hi!"}]}, False),
    ],
)
def test_key_depends_on_the_question_only(a: dict[str, Any], b: dict[str, Any], same: bool) -> None:
    assert (cache_key("t", req(**a)) == cache_key("t", req(**b))) is same


def test_key_differs_per_tenant_and_is_versioned() -> None:
    one, two = cache_key("tenant-a", req()), cache_key("tenant-b", req())
    assert one != two
    assert one.startswith("v2:") and len(one) == len("v2:") + 64


COMPLETION = {
    "id": "chatcmpl-old",
    "object": "chat.completion",
    "created": 1,
    "model": "anthropic.claude-3-haiku-20240307-v1:0",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hello there, friend.", "refusal": None},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8},
}
STREAM_DELTAS = [
    {"delta": {"role": "assistant", "content": ""}, "finish_reason": None},
    {"delta": {"content": "Hel"}, "finish_reason": None},
    {"delta": {"content": "lo"}, "finish_reason": None},
    {
        "delta": {
            "tool_calls": [
                {
                    "index": 0,
                    "id": "tooluse_1",
                    "type": "function",
                    "function": {"name": "f", "arguments": ""},
                }
            ]
        },
        "finish_reason": None,
    },
    {
        "delta": {"tool_calls": [{"index": 0, "function": {"arguments": '{"a":'}}]},
        "finish_reason": None,
    },
    {
        "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]},
        "finish_reason": None,
    },
    {"delta": {}, "finish_reason": "tool_calls"},
]


def test_encode_decode_round_trip_and_corrupt_entries() -> None:
    answer = CachedAnswer(COMPLETION, STREAM_DELTAS, "claude-3-haiku", "anthropic.x")
    packed = encode_answer(answer)
    assert packed is not None
    assert decode_answer(packed) == answer
    assert decode_answer(b"not zlib") is None


def test_oversized_entry_is_not_encoded() -> None:
    import os

    big = dict(COMPLETION, blob=os.urandom(1_200_000).hex())
    assert encode_answer(CachedAnswer(big, None, "m", "b")) is None


def _replay(answer: CachedAnswer, include_usage: bool) -> ChatCompletion:
    state = ChatCompletionStreamState()
    for chunk in replay_chunks(
        answer, completion_id="chatcmpl-new", created=9, include_usage=include_usage
    ):
        state.handle_chunk(ChatCompletionChunk.model_validate(chunk))
    return state.get_final_completion()  # type: ignore[return-value]


def test_plain_entry_replays_as_stream_with_same_text() -> None:
    answer = CachedAnswer(COMPLETION, None, "m", "b")
    chunks = replay_chunks(answer, completion_id="chatcmpl-new", created=9, include_usage=True)
    assert (
        len(chunks) > 4 and chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] == 8
    )
    final = _replay(answer, include_usage=True)
    assert final.choices[0].message.content == "Hello there, friend."
    assert final.id == "chatcmpl-new"


def test_stream_entry_replays_in_original_chunking() -> None:
    answer = CachedAnswer(COMPLETION, STREAM_DELTAS, "m", "b")
    chunks = replay_chunks(answer, completion_id="c", created=9, include_usage=False)
    assert [c["choices"][0]["delta"] for c in chunks] == [d["delta"] for d in STREAM_DELTAS]
    assert all("usage" not in c for c in chunks)
    final = _replay(answer, include_usage=False)
    assert final.choices[0].message.tool_calls[0].function.arguments == '{"a":1}'  # type: ignore[index]


def test_replay_completion_gets_new_id() -> None:
    body = replay_completion(CachedAnswer(COMPLETION, None, "m", "b"), completion_id="n", created=5)
    assert (body["id"], body["created"]) == ("n", 5)
    ChatCompletion.model_validate(body)
