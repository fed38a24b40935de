"""Translation (pure): OpenAI embeddings to Bedrock InvokeModel bodies (Titan, Cohere) and back.

Titan takes one text per call (the I/O layer loops); Cohere takes up to 96 texts per call.
``base64`` output is little-endian float32, which the openai SDK decodes.
"""

from __future__ import annotations

import base64
import sys
from array import array
from collections.abc import Mapping, Sequence
from math import ceil
from typing import Any

from gateway.errors import InvalidRequestError
from gateway.translation.models import base_model_id

TITAN_V2_DIMENSIONS = (256, 512, 1024)
TITAN_V1_DIMENSIONS = 1536
COHERE_DIMENSIONS = 1024
COHERE_BATCH = 96
_BIG_ENDIAN = sys.byteorder == "big"


def embedding_family(bedrock_id: str) -> str:
    """``titan-v2`` | ``titan-v1`` | ``cohere-v3``; other models are a 400 naming ``model``."""
    model = base_model_id(bedrock_id)
    if model.startswith("amazon.titan-embed-text-v2"):
        return "titan-v2"
    if model.startswith(("amazon.titan-embed-text-v1", "amazon.titan-embed-g1-text")):
        return "titan-v1"
    if model.startswith("cohere.embed-") and "-v3" in model:
        return "cohere-v3"
    raise InvalidRequestError(
        "Invalid value for 'model': this model is not an embedding model the gateway supports "
        "(Titan Text Embeddings v1/v2, Cohere Embed v3).",
        param="model",
        code="model_not_found",
    )


def _bad_dimensions(allowed: str) -> InvalidRequestError:
    return InvalidRequestError(
        f"Invalid value for 'dimensions': this model supports {allowed}.", param="dimensions"
    )


def titan_body(
    text: str,
    *,
    dimensions: int | None,
    normalize: bool = True,
    family: str = "titan-v2",
) -> dict[str, Any]:
    """The InvokeModel body for one text (``family`` from ``embedding_family``)."""
    if family == "titan-v1":
        if dimensions is not None and dimensions != TITAN_V1_DIMENSIONS:
            raise _bad_dimensions(f"only {TITAN_V1_DIMENSIONS} dimensions")
        return {"inputText": text}
    body: dict[str, Any] = {"inputText": text, "normalize": normalize, "embeddingTypes": ["float"]}
    if dimensions is not None:
        if dimensions not in TITAN_V2_DIMENSIONS:
            raise _bad_dimensions("256, 512 or 1024 dimensions")
        body["dimensions"] = dimensions
    return body


def cohere_bodies(
    texts: Sequence[str],
    *,
    input_type: str = "search_document",
    dimensions: int | None = None,
) -> list[dict[str, Any]]:
    """InvokeModel bodies in batches of 96 texts, truncating over-long inputs at the end."""
    if dimensions is not None and dimensions != COHERE_DIMENSIONS:
        raise _bad_dimensions(f"only {COHERE_DIMENSIONS} dimensions")
    return [
        {"texts": list(texts[i : i + COHERE_BATCH]), "input_type": input_type, "truncate": "END"}
        for i in range(0, len(texts), COHERE_BATCH)
    ]


def _vector(value: object) -> bool:
    return isinstance(value, list) and all(
        isinstance(x, int | float) and not isinstance(x, bool) for x in value
    )


def titan_problem(resp: Mapping[str, Any]) -> str | None:
    """Why a Titan answer is not what Bedrock documents (a vector of numbers), else None."""
    vector = resp.get("embedding")
    if vector is None:
        by_type = resp.get("embeddingsByType")
        vector = by_type.get("float") if isinstance(by_type, Mapping) else None
    if not _vector(vector) or not vector:
        return "no embedding vector of numbers"
    count = resp.get("inputTextTokenCount")
    if count is not None and not (isinstance(count, int) and not isinstance(count, bool)):
        return "inputTextTokenCount is not a number"
    return None


def cohere_problem(resp: Mapping[str, Any]) -> str | None:
    """Why a Cohere answer is not what Bedrock documents (vectors of numbers), else None."""
    embeddings = resp.get("embeddings")
    if isinstance(embeddings, Mapping):
        embeddings = embeddings.get("float")
    if not isinstance(embeddings, list) or not all(_vector(v) for v in embeddings):
        return "no embeddings: a list of vectors of numbers"
    return None


def parse_titan(resp: Mapping[str, Any]) -> tuple[list[float], int]:
    """(vector, input token count) from a Titan response."""
    vector = resp.get("embedding")
    if vector is None:
        vector = (resp.get("embeddingsByType") or {}).get("float") or []
    return vector, int(resp.get("inputTextTokenCount") or 0)


def parse_cohere(resp: Mapping[str, Any]) -> list[list[float]]:
    """The vectors of a Cohere response (``embeddings_floats`` or ``embeddings_by_type``)."""
    embeddings = resp.get("embeddings") or []
    if isinstance(embeddings, Mapping):
        return list(embeddings.get("float") or [])
    return list(embeddings)


def estimate_tokens(texts: Sequence[str]) -> int:
    """A prompt-token estimate (ceil(chars / 4)) when the model reports none (Cohere)."""
    return sum(ceil(len(t) / 4) for t in texts)


def _b64(vector: Sequence[float]) -> str:
    packed = array("f", vector)
    if _BIG_ENDIAN:
        packed.byteswap()
    return base64.b64encode(packed.tobytes()).decode("ascii")


def embedding_response(
    vectors: Sequence[Sequence[float]],
    *,
    model: str,
    prompt_tokens: int,
    encoding_format: str,
) -> dict[str, Any]:
    """The OpenAI ``list`` of embeddings; base64 is little-endian float32."""
    encode = encoding_format == "base64"
    data = [
        {"object": "embedding", "index": i, "embedding": _b64(v) if encode else v}
        for i, v in enumerate(vectors)
    ]
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    }
