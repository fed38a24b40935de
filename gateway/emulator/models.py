"""Emulator: model identifiers (base ids, inference profiles, ARNs) and their kinds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote

from gateway.emulator.errors import validation_error

PROVIDERS = frozenset(
    {
        "anthropic",
        "meta",
        "mistral",
        "amazon",
        "cohere",
        "ai21",
        "deepseek",
        "openai",
        "writer",
        "qwen",
    }
)
INVALID_MODEL = "The provided model identifier is invalid."
ModelKind = Literal["chat", "titan-v1", "titan-v2", "titan-image", "cohere"]


@dataclass(frozen=True, slots=True)
class ModelRef:
    """A requested model: the id as sent (decoded) and the base model id behind it."""

    model_id: str
    base_id: str
    kind: ModelKind

    @property
    def is_embedding(self) -> bool:
        return self.kind != "chat"


def _kind(base_id: str) -> ModelKind:
    if base_id.startswith("amazon.titan-embed-text-v2"):
        return "titan-v2"
    if base_id.startswith("amazon.titan-embed-image"):
        return "titan-image"
    if base_id.startswith("amazon.titan-embed"):
        return "titan-v1"
    if base_id.startswith("cohere.embed"):
        return "cohere"
    return "chat"


def base_model_id(model_id: str) -> str | None:
    """The base model id of a model id, profile id or ARN; None when no known provider."""
    candidate = model_id
    if candidate.startswith("arn:"):
        candidate = candidate.rsplit("/", 1)[-1]
    parts = candidate.split(".", 2)
    if parts[0] in PROVIDERS and len(parts) > 1 and parts[1]:
        return candidate
    if len(parts) == 3 and parts[1] in PROVIDERS and parts[2]:
        return candidate.split(".", 1)[1]
    return None


def model_ref(model_id: str, base_id: str) -> ModelRef:
    """A reference for a model id whose base id is known already (strict mode's table)."""
    return ModelRef(model_id, base_id, _kind(base_id))


def resolve_model(encoded_model_id: str) -> ModelRef:
    """Decode a path's model id and resolve it; raise ValidationException when unknown."""
    model_id = unquote(encoded_model_id)
    base = base_model_id(model_id)
    if base is None:
        raise validation_error(INVALID_MODEL)
    return ModelRef(model_id, base, _kind(base))
