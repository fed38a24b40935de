"""Shadow layer: one text's embedding (Titan or Cohere via InvokeModel), for the cosine check."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.jsonbytes import json_bytes
from gateway.routing.policy import ModelSpec
from gateway.translation.embeddings import (
    cohere_bodies,
    embedding_family,
    estimate_tokens,
    parse_cohere,
    parse_titan,
    titan_body,
)

if TYPE_CHECKING:
    from gateway.providers.bedrock import BedrockClient

#: Characters embedded per answer (Cohere v3 takes 2048; the start of an answer is enough).
MAX_CHARS = 2048


async def embed_text(
    bedrock: BedrockClient, model: ModelSpec, text: str, *, timeout: float
) -> tuple[list[float], int]:
    """(vector, input tokens) for ``text``; failures raise the provider's ``GatewayError``."""
    text = text[:MAX_CHARS]
    family = embedding_family(model.bedrock_id)
    if family == "cohere-v3":
        body = cohere_bodies([text])[0]
        result = await bedrock.invoke_model(model.bedrock_id, json_bytes(body), timeout=timeout)
        vectors = parse_cohere(result.body)
        return (list(vectors[0]) if vectors else []), estimate_tokens([text])
    body = titan_body(text, dimensions=model.dimensions, family=family)
    result = await bedrock.invoke_model(model.bedrock_id, json_bytes(body), timeout=timeout)
    vector, tokens = parse_titan(result.body)
    return list(vector), tokens
