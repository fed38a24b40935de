"""Unit: which Bedrock 200 bodies are what Bedrock documents (else the gateway answers 502)."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.translation.converse_to_openai import converse_problem
from gateway.translation.embeddings import cohere_problem, titan_problem

GOOD: dict[str, Any] = {
    "output": {"message": {"role": "assistant", "content": [{"text": "hi"}]}},
    "stopReason": "end_turn",
    "usage": {"inputTokens": 1, "outputTokens": 2, "totalTokens": 3},
}


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (GOOD, None),
        (GOOD | {"usage": None}, None),
        (GOOD | {"output": {"message": {"content": []}}}, None),
        ({}, "no output.message.content list"),
        (GOOD | {"output": "x"}, "no output.message.content list"),
        (GOOD | {"output": {"message": {"content": "hi"}}}, "no output.message.content list"),
        (GOOD | {"output": {"message": {"content": [1]}}}, "content[0] is not an object"),
        (GOOD | {"output": {"message": {"content": [{"text": 5}]}}}, "content[0].text"),
        (GOOD | {"output": {"message": {"content": [{"toolUse": {}}]}}}, "toolUseId and name"),
        (GOOD | {"stopReason": 7}, "stopReason is not a string"),
        (GOOD | {"usage": {"inputTokens": "many"}}, "usage.inputTokens is not a token count"),
        (GOOD | {"usage": {"outputTokens": True}}, "usage.outputTokens is not a token count"),
        (GOOD | {"usage": [1]}, "usage is not an object"),
    ],
)
def test_converse_problem(body: dict[str, Any], problem: str | None) -> None:
    found = converse_problem(body)
    assert found == problem if problem is None else (found is not None and problem in found)


@pytest.mark.parametrize(
    ("body", "ok"),
    [
        ({"embedding": [0.1, 2], "inputTextTokenCount": 3}, True),
        ({"embeddingsByType": {"float": [0.5]}}, True),
        ({"embedding": "x"}, False),
        ({"embedding": []}, False),
        ({"embedding": [True]}, False),
        ({"embedding": [0.1], "inputTextTokenCount": "3"}, False),
        ({}, False),
    ],
)
def test_titan_problem(body: dict[str, Any], ok: bool) -> None:
    assert (titan_problem(body) is None) is ok


@pytest.mark.parametrize(
    ("body", "ok"),
    [
        ({"embeddings": [[0.1], [0.2]]}, True),
        ({"embeddings": {"float": [[0.1]]}}, True),
        ({"embeddings": [["x"]]}, False),
        ({"embeddings": "x"}, False),
        ({}, False),
    ],
)
def test_cohere_problem(body: dict[str, Any], ok: bool) -> None:
    assert (cohere_problem(body) is None) is ok
