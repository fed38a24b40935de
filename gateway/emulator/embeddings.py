"""Emulator: InvokeModel for Titan and Cohere embedding models (deterministic vectors)."""

from __future__ import annotations

import hashlib
import math
import random
import uuid
from typing import Any

from gateway.emulator.errors import EmulatorError, validation_error
from gateway.emulator.models import ModelRef

TITAN_V2_DIMENSIONS = (256, 512, 1024)
COHERE_INPUT_TYPES = ("search_document", "search_query", "classification", "clustering", "image")
COHERE_TYPES = ("float", "int8", "uint8", "binary", "ubinary")
COHERE_MAX_TEXTS = 96
COHERE_MAX_CHARS = 2048
_TITAN_V2_KEYS = frozenset({"inputText", "dimensions", "normalize", "embeddingTypes"})
_COHERE_KEYS = frozenset({"texts", "input_type", "truncate", "embedding_types", "images"})


def malformed(detail: str) -> EmulatorError:
    return validation_error(
        f"Malformed input request: {detail}, please reformat your input and try again."
    )


def vector(model_id: str, text: str, dimensions: int, normalize: bool) -> list[float]:
    """A deterministic pseudo-random vector for (model id, text)."""
    seed = hashlib.sha256(f"{model_id}\x00{text}".encode()).digest()
    rng = random.Random(int.from_bytes(seed[:16], "big"))
    values = [rng.random() * 2.0 - 1.0 for _ in range(dimensions)]
    if normalize:
        norm = math.sqrt(sum(value * value for value in values)) or 1.0
        values = [value / norm for value in values]
    return values


def token_count(text: str) -> int:
    return max(1, -(-len(text) // 4))


def _check_keys(body: dict[str, Any], allowed: frozenset[str]) -> None:
    for key in body:
        if key not in allowed:
            raise malformed(f"#: extraneous key [{key}] is not permitted")


def _require_string(body: dict[str, Any], key: str) -> str:
    if key not in body:
        raise malformed(f"#: required key [{key}] not found")
    value = body[key]
    if not isinstance(value, str):
        raise malformed(f"#/{key}: expected type: String, found: {type(value).__name__}")
    return value


def titan(ref: ModelRef, body: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Titan text embeddings (v1: inputText only; v2: dimensions, normalize, embeddingTypes)."""
    if ref.kind == "titan-v2":
        _check_keys(body, _TITAN_V2_KEYS)
    else:
        _check_keys(body, frozenset({"inputText", "embeddingConfig"}))
    text = _require_string(body, "inputText")
    if not text:
        raise malformed("#/inputText: expected minLength: 1, actual: 0")
    dimensions = 1536 if ref.kind == "titan-v1" else 1024
    normalize = True
    types: list[str] = ["float"]
    if ref.kind == "titan-v2":
        dimensions = body.get("dimensions", 1024)
        if dimensions not in TITAN_V2_DIMENSIONS or isinstance(dimensions, bool):
            raise malformed(f"#/dimensions: {dimensions} is not a valid enum value")
        normalize = body.get("normalize", True)
        if not isinstance(normalize, bool):
            raise malformed("#/normalize: expected type: Boolean")
        types = body.get("embeddingTypes", ["float"])
        if (
            not isinstance(types, list)
            or not types
            or any(item not in ("float", "binary") for item in types)
        ):
            raise malformed("#/embeddingTypes: expected a non-empty subset of [float, binary]")
    values = vector(ref.base_id, text, dimensions, normalize)
    tokens = token_count(text)
    response: dict[str, Any] = {"embedding": values, "inputTextTokenCount": tokens}
    if ref.kind == "titan-v2":
        by_type: dict[str, Any] = {}
        if "float" in types:
            by_type["float"] = values
        if "binary" in types:
            by_type["binary"] = [1 if value > 0 else 0 for value in values]
        response["embeddingsByType"] = by_type
    return response, tokens


def _cohere_typed(values: list[float], kind: str) -> list[Any]:
    if kind == "float":
        return values
    if kind == "int8":
        return [round(value * 127) for value in values]
    if kind == "uint8":
        return [round((value + 1.0) * 127.5) for value in values]
    bits = [1 if value > 0 else 0 for value in values]
    packed = [int("".join(map(str, bits[i : i + 8])), 2) for i in range(0, len(bits), 8)]
    return [byte - 128 for byte in packed] if kind == "binary" else packed


def _cohere_texts(body: dict[str, Any]) -> list[str]:
    if "texts" not in body:
        raise malformed("#: required key [texts] not found")
    texts = body["texts"]
    if not isinstance(texts, list) or any(not isinstance(text, str) for text in texts):
        raise malformed("#/texts: expected type: JSONArray of String")
    if not texts:
        raise malformed("#/texts: expected minimum item count: 1, found: 0")
    if len(texts) > COHERE_MAX_TEXTS:
        raise malformed(f"#/texts: expected maximum item count: 96, found: {len(texts)}")
    for index, text in enumerate(texts):
        if len(text) > COHERE_MAX_CHARS:
            raise malformed(f"#/texts/{index}: expected maxLength: 2048, actual: {len(text)}")
    return texts


def cohere(ref: ModelRef, body: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Cohere Embed v3: texts (1..96, <= 2048 chars), input_type, truncate, embedding_types."""
    _check_keys(body, _COHERE_KEYS)
    texts = _cohere_texts(body)
    input_type = _require_string(body, "input_type")
    if input_type not in COHERE_INPUT_TYPES:
        raise malformed(f"#/input_type: {input_type} is not a valid enum value")
    if body.get("truncate", "NONE") not in ("NONE", "START", "END"):
        raise malformed(f"#/truncate: {body['truncate']} is not a valid enum value")
    types = body.get("embedding_types")
    if types is not None and (
        not isinstance(types, list) or any(item not in COHERE_TYPES for item in types)
    ):
        raise malformed(f"#/embedding_types: expected a subset of {list(COHERE_TYPES)}")
    vectors = [vector(ref.base_id, text, 1024, True) for text in texts]
    response: dict[str, Any] = {"id": str(uuid.uuid4()), "texts": texts}
    if types:
        response["response_type"] = "embeddings_by_type"
        response["embeddings"] = {
            kind: [_cohere_typed(values, kind) for values in vectors] for kind in types
        }
    else:
        response["response_type"] = "embeddings_floats"
        response["embeddings"] = vectors
    return response, sum(token_count(text) for text in texts)


def embed(ref: ModelRef, body: Any) -> tuple[dict[str, Any], int]:
    """The InvokeModel answer for an embedding model: (response body, input tokens)."""
    if not isinstance(body, dict):
        raise malformed("#: expected type: JSONObject")
    if ref.kind == "cohere":
        return cohere(ref, body)
    return titan(ref, body)
