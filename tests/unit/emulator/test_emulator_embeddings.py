"""Emulator: deterministic InvokeModel embeddings for Titan and Cohere, and their errors."""

from __future__ import annotations

import math
from typing import Any

import pytest

from gateway.emulator.embeddings import embed
from gateway.emulator.errors import EmulatorError
from gateway.emulator.models import resolve_model

TITAN_V2 = resolve_model("amazon.titan-embed-text-v2:0")
TITAN_V1 = resolve_model("amazon.titan-embed-text-v1")
COHERE = resolve_model("cohere.embed-english-v3")


def _norm(values: list[float]) -> float:
    return math.sqrt(sum(value * value for value in values))


def test_titan_v2_defaults() -> None:
    body, tokens = embed(TITAN_V2, {"inputText": "hello world"})
    assert len(body["embedding"]) == 1024
    assert body["embeddingsByType"] == {"float": body["embedding"]}
    assert body["inputTextTokenCount"] == tokens == 3
    assert _norm(body["embedding"]) == pytest.approx(1.0)


def test_titan_v2_is_deterministic_and_text_dependent() -> None:
    first = embed(TITAN_V2, {"inputText": "a", "dimensions": 256})[0]["embedding"]
    again = embed(TITAN_V2, {"inputText": "a", "dimensions": 256})[0]["embedding"]
    other = embed(TITAN_V2, {"inputText": "b", "dimensions": 256})[0]["embedding"]
    assert first == again != other
    assert len(first) == 256


def test_titan_v2_unnormalised_and_binary() -> None:
    body = {"inputText": "a", "normalize": False, "embeddingTypes": ["float", "binary"]}
    result = embed(TITAN_V2, body)[0]
    assert _norm(result["embedding"]) != pytest.approx(1.0)
    assert set(result["embeddingsByType"]["binary"]) <= {0, 1}


def test_titan_v1() -> None:
    result = embed(TITAN_V1, {"inputText": "a"})[0]
    assert len(result["embedding"]) == 1536
    assert "embeddingsByType" not in result


def test_cohere_floats() -> None:
    result, tokens = embed(COHERE, {"texts": ["a", "bb"], "input_type": "search_document"})
    assert result["response_type"] == "embeddings_floats"
    assert [len(vector) for vector in result["embeddings"]] == [1024, 1024]
    assert result["texts"] == ["a", "bb"]
    assert tokens == 2


def test_cohere_by_type() -> None:
    body = {"texts": ["a"], "input_type": "search_query", "embedding_types": ["float", "int8"]}
    result = embed(COHERE, body)[0]
    assert result["response_type"] == "embeddings_by_type"
    assert set(result["embeddings"]) == {"float", "int8"}
    assert all(-127 <= value <= 127 for value in result["embeddings"]["int8"][0])


@pytest.mark.parametrize(
    ("ref", "body", "detail"),
    [
        (TITAN_V2, {}, "#: required key [inputText] not found"),
        (TITAN_V2, {"inputText": ["a"]}, "#/inputText: expected type: String"),
        (TITAN_V2, {"inputText": "a", "dimensions": 100}, "#/dimensions: 100 is not a valid enum"),
        (TITAN_V2, {"inputText": "a", "extra": 1}, "#: extraneous key [extra] is not permitted"),
        (TITAN_V1, {"inputText": "a", "dimensions": 256}, "#: extraneous key [dimensions]"),
        (COHERE, {"input_type": "search_query"}, "#: required key [texts] not found"),
        (COHERE, {"texts": ["a"]}, "#: required key [input_type] not found"),
        (COHERE, {"texts": ["a"] * 97, "input_type": "clustering"}, "maximum item count: 96"),
        (COHERE, {"texts": ["a" * 2049], "input_type": "clustering"}, "expected maxLength: 2048"),
        (COHERE, {"texts": [], "input_type": "clustering"}, "minimum item count: 1"),
        (COHERE, {"texts": ["a"], "input_type": "poetry"}, "#/input_type: poetry is not a valid"),
    ],
)
def test_malformed_input(ref: Any, body: dict[str, Any], detail: str) -> None:
    with pytest.raises(EmulatorError) as caught:
        embed(ref, body)
    assert caught.value.code == "ValidationException"
    assert caught.value.message.startswith("Malformed input request: ")
    assert detail in caught.value.message
    assert caught.value.message.endswith(", please reformat your input and try again.")
