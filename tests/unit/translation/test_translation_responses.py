"""Converse responses to chat.completion dicts, validated by the openai SDK's own models."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.schemas import parse_chat_request
from gateway.translation.converse_to_openai import (
    FINISH_REASONS,
    chat_completion,
    finish_reason,
    usage,
)
from gateway.translation.openai_to_converse import PreparedConversation, prepare_conversation
from tests.unit.translation.translation_checks import load_fixture, validate_completion

RESPONSES = load_fixture("responses.json")
PLAIN = {"model": "cheap", "messages": [{"role": "user", "content": "hi"}]}


def _prepared(request: dict[str, Any] | None) -> PreparedConversation:
    return prepare_conversation(parse_chat_request(request or PLAIN))


@pytest.mark.parametrize("case", RESPONSES, ids=[c["name"] for c in RESPONSES])
def test_response_fixture(case: dict[str, Any]) -> None:
    out = chat_completion(
        case["response"],
        completion_id="chatcmpl-1",
        model="cheap",
        created=1700000000,
        prepared=_prepared(case.get("request")),
    )
    assert out == case["expected"]
    parsed = validate_completion(out)
    assert parsed.choices[0].message.role == "assistant"


@pytest.mark.parametrize(
    ("stop_reason", "expected"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("content_filtered", "content_filter"),
        ("guardrail_intervened", "content_filter"),
        ("model_context_window_exceeded", "length"),
        ("malformed_model_output", "stop"),
        ("malformed_tool_use", "stop"),
        ("something_new", "stop"),
        (None, "stop"),
    ],
)
def test_finish_reasons(stop_reason: str | None, expected: str) -> None:
    assert finish_reason(stop_reason, tool_calls=True) == expected
    assert set(FINISH_REASONS.values()) <= {"stop", "length", "tool_calls", "content_filter"}


def test_tool_use_without_tool_calls_is_stop() -> None:
    assert finish_reason("tool_use", tool_calls=False) == "stop"


def test_every_stop_reason_in_botocore_is_mapped() -> None:
    import botocore.session

    model = botocore.session.get_session().get_service_model("bedrock-runtime")
    assert set(model.shape_for("StopReason").enum) <= set(FINISH_REASONS)


def test_usage_counts_cache_in_prompt() -> None:
    out = usage(
        {
            "inputTokens": 3,
            "outputTokens": 4,
            "totalTokens": 17,
            "cacheReadInputTokens": 6,
            "cacheWriteInputTokens": 4,
        }
    )
    assert out["prompt_tokens"] == 13
    assert out["completion_tokens"] == 4
    assert out["total_tokens"] == 17
    assert out["prompt_tokens_details"] == {
        "cached_tokens": 6,
        "audio_tokens": 0,
        "cache_write_tokens": 4,
    }
    assert out["completion_tokens_details"]["reasoning_tokens"] == 0
    assert usage(None)["total_tokens"] == 0


def test_every_fixture_response_validates_against_botocore_output_shape() -> None:
    import botocore.session
    import botocore.validate

    model = botocore.session.get_session().get_service_model("bedrock-runtime")
    shape = model.operation_model("Converse").output_shape
    for case in RESPONSES:
        report = botocore.validate.ParamValidator().validate(case["response"], shape)
        assert not report.has_errors(), (case["name"], report.generate_report())
