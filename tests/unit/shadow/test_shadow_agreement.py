"""Shadow agreement (pure): exact match, tool calls, JSON validity, length ratio, cosine."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.shadow.agreement import (
    Answer,
    answer_of,
    canonical_arguments,
    compare,
    cosine,
    is_json,
)


def completion(text: str | None, *calls: tuple[str, str]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if calls:
        message["tool_calls"] = [
            {"id": f"c{i}", "type": "function", "function": {"name": n, "arguments": a}}
            for i, (n, a) in enumerate(calls)
        ]
    return {"choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}


def test_answer_of_reads_text_and_canonical_tool_calls() -> None:
    answer = answer_of(completion(None, ("f", '{"b": 1, "a": [1, 2]}')))
    assert answer == Answer("", (("f", '{"a":[1,2],"b":1}'),), "stop")
    assert answer_of({}) == Answer("", (), None)


def test_canonical_arguments_keeps_unparseable_text() -> None:
    assert canonical_arguments(' {"x" : 1} ') == '{"x":1}'
    assert canonical_arguments("not json ") == "not json"
    assert canonical_arguments("") == "{}"


@pytest.mark.parametrize(
    ("left", "right", "exact", "tools"),
    [
        (completion("hi"), completion("hi "), True, None),
        (completion("hi"), completion("ho"), False, None),
        (completion(None, ("f", '{"a":1}')), completion(None, ("f", '{ "a": 1 }')), True, True),
        (completion(None, ("f", '{"a":1}')), completion(None, ("f", '{"a":2}')), False, False),
        (completion(None, ("f", "{}")), completion(None, ("g", "{}")), False, False),
        (completion("x", ("f", "{}")), completion("x"), False, False),
    ],
)
def test_exact_and_tool_agreement(
    left: dict[str, Any], right: dict[str, Any], exact: bool, tools: bool | None
) -> None:
    result = compare(answer_of(left), answer_of(right), json_mode=None)
    assert (result.exact, result.tool_calls) == (exact, tools)
    assert result.json_valid is None and result.primary_json_valid is None


def test_json_validity_only_when_json_was_asked_for() -> None:
    good, bad = answer_of(completion('{"a": 1}')), answer_of(completion("sure: {a}"))
    result = compare(good, bad, json_mode="json_object")
    assert (result.json_valid, result.primary_json_valid) == (False, True)
    assert compare(bad, good, json_mode="json_schema").json_valid is True
    assert is_json('```json\n{"a": 1}\n```')
    assert not is_json("")


def test_length_ratio_is_shadow_over_primary_characters() -> None:
    result = compare(answer_of(completion("abcd")), answer_of(completion("ab")), json_mode=None)
    assert result.length_ratio == 0.5
    none = compare(answer_of(completion("")), answer_of(completion("ab")), json_mode=None)
    assert none.length_ratio is None


def test_cosine() -> None:
    assert cosine([1.0, 0.0], [1.0, 0.0]) == pytest.approx(1.0)
    assert cosine([1.0, 0.0], [0.0, 2.0]) == pytest.approx(0.0)
    assert cosine([1.0, 1.0], [-1.0, -1.0]) == pytest.approx(-1.0)
    assert cosine([], []) is None
    assert cosine([1.0], [1.0, 2.0]) is None
    assert cosine([0.0, 0.0], [1.0, 1.0]) is None


def test_embedding_text_includes_tool_calls() -> None:
    answer = answer_of(completion("Calling f.", ("f", '{"a":1}')))
    assert answer.for_embedding == 'Calling f. f({"a":1})'
