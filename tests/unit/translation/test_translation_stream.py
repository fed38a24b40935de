"""ConverseStream events to chunks, replayed through the openai SDK's own stream accumulator."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from gateway.errors import UpstreamThrottledError
from gateway.schemas import parse_chat_request
from gateway.translation.openai_to_converse import prepare_conversation
from gateway.translation.sse import SSE_DONE, sse_error, sse_event
from gateway.translation.stream import StreamTranslator
from tests.unit.translation.translation_checks import (
    load_fixture,
    replay_stream,
    validate_completion,
)

STREAMS = load_fixture("streams.json")
PLAIN = {"model": "cheap", "messages": [{"role": "user", "content": "hi"}]}


def _run(case: dict[str, Any]) -> tuple[StreamTranslator, list[dict[str, Any]]]:
    prepared = prepare_conversation(parse_chat_request(case.get("request") or PLAIN))
    translator = StreamTranslator(
        "chatcmpl-s", "cheap", 1700000000, case["include_usage"], prepared
    )
    chunks: list[dict[str, Any]] = []
    for event_type, payload in case["events"]:
        chunks.extend(translator.feed(event_type, payload))
    return translator, chunks


@pytest.mark.parametrize("case", STREAMS, ids=[c["name"] for c in STREAMS])
def test_stream_fixture(case: dict[str, Any]) -> None:
    translator, chunks = _run(case)
    expected = []
    for want in case["expected_chunks"]:
        chunk: dict[str, Any] = {
            "id": "chatcmpl-s",
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": "cheap",
        }
        if "usage" in want:
            chunk["choices"] = []
            chunk["usage"] = want["usage"]
            chunk["service_tier"] = want.get("service_tier", "default")
        else:
            chunk["choices"] = [
                {
                    "index": 0,
                    "delta": want["delta"],
                    "logprobs": None,
                    "finish_reason": want.get("finish_reason"),
                }
            ]
            if case["include_usage"]:
                chunk["usage"] = None
        expected.append(chunk)
    assert chunks == expected
    assert translator.finished
    assert translator.finish_reason == case["expected_finish"]
    assert translator.usage is not None

    final = replay_stream(chunks)  # the SDK's accumulator: no duplicated role/id/name
    choice = final.choices[0]
    assert choice.message.role == "assistant"
    assert choice.finish_reason == case["expected_finish"]
    # the role chunk's content "" makes the SDK report "" rather than None for tool-only
    assert (choice.message.content or None) == case["expected_message"]["content"]
    want_calls = case["expected_message"]["tool_calls"]
    got_calls = [
        {"id": c.id, "name": c.function.name, "arguments": c.function.arguments}
        for c in choice.message.tool_calls or ()
    ] or None
    assert got_calls == want_calls
    if case["include_usage"]:
        assert final.usage is not None
        assert final.usage.prompt_tokens == chunks[-1]["usage"]["prompt_tokens"]
    assert translator.text == (case["expected_message"]["content"] or "")

    replayed = translator.to_completion()  # what a streamed miss stores in the cache
    validate_completion(replayed)
    assert replayed["choices"][0]["message"]["content"] == case["expected_message"]["content"]
    assert replayed["choices"][0]["finish_reason"] == choice.finish_reason


def test_role_is_sent_once_even_without_message_start() -> None:
    prepared = prepare_conversation(parse_chat_request(PLAIN))
    translator = StreamTranslator("c", "m", 1, False, prepared)
    chunks = translator.feed("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "a"}})
    chunks += translator.feed("messageStart", {"role": "assistant"})
    chunks += translator.feed("messageStop", {"stopReason": "end_turn"})
    roles = [c["choices"][0]["delta"].get("role") for c in chunks]
    assert roles.count("assistant") == 1
    assert replay_stream(chunks).choices[0].message.content == "a"


def test_ignored_events_yield_nothing() -> None:
    prepared = prepare_conversation(parse_chat_request(PLAIN))
    translator = StreamTranslator("c", "m", 1, True, prepared)
    assert translator.feed("contentBlockStop", {"contentBlockIndex": 0}) == []
    assert translator.feed("somethingNew", {}) == []
    assert (
        translator.feed("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": ""}}) == []
    )
    assert not translator.finished and translator.usage is None


def test_sse_framing() -> None:
    assert sse_event({"a": 1}) == b'data: {"a":1}\n\n'
    assert SSE_DONE == b"data: [DONE]\n\n"
    frame = sse_error(UpstreamThrottledError("Bedrock is throttling this model."))
    assert frame.startswith(b"data: ") and frame.endswith(b"\n\n")
    body = orjson.loads(frame[len(b"data: ") : -2])
    assert body == {
        "error": {
            "message": "Bedrock is throttling this model.",
            "type": "rate_limit_error",
            "param": None,
            "code": "rate_limit_exceeded",
        }
    }


def test_sse_error_raises_api_error_in_the_sdk() -> None:
    import httpx2 as httpx
    import openai

    events = [
        sse_event(
            {
                "id": "c",
                "object": "chat.completion.chunk",
                "created": 1,
                "model": "m",
                "choices": [{"index": 0, "delta": {"content": "x"}, "finish_reason": None}],
            }
        ),
        sse_error(UpstreamThrottledError("slow down")),
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, headers={"content-type": "text/event-stream"}, content=b"".join(events)
        )

    client = openai.OpenAI(
        api_key="k",
        base_url="http://gw/v1",
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
    )
    stream = client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    with pytest.raises(openai.APIError, match="slow down"):
        for _ in stream:
            pass


def test_final_usage_chunk_carries_the_real_cost_and_served_tier() -> None:
    prepared = prepare_conversation(parse_chat_request(PLAIN))
    seen: list[tuple[int, str, str]] = []

    def cost_of(usage: Any, tier: str, latency: str) -> float:
        seen.append((usage["prompt_tokens"], tier, latency))
        return 0.125

    translator = StreamTranslator("c", "cheap", 1, True, prepared, cost_of=cost_of)
    metadata = {
        "usage": {
            "inputTokens": 4,
            "outputTokens": 2,
            "totalTokens": 10,
            "cacheReadInputTokens": 4,
        },
        "metrics": {"latencyMs": 1},
        "serviceTier": {"type": "flex"},
        "performanceConfig": {"latency": "optimized"},
    }
    (chunk,) = translator.feed("metadata", metadata)
    assert chunk["usage"]["cost_usd"] == 0.125
    assert chunk["service_tier"] == "flex"
    assert seen == [(8, "flex", "optimized")]
    assert translator.usage is not None and "cost_usd" not in translator.usage  # not cached
    assert translator.to_completion()["service_tier"] == "flex"
