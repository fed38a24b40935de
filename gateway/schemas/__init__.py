"""Schemas layer: pydantic models of the OpenAI wire format."""

from gateway.schemas.chat import ChatCompletionRequest
from gateway.schemas.embeddings import EmbeddingRequest
from gateway.schemas.parse import parse_chat_request, parse_embedding_request
from gateway.schemas.support import IGNORED_FIELDS, REFUSED_FIELDS, check_supported

__all__ = [
    "IGNORED_FIELDS",
    "REFUSED_FIELDS",
    "ChatCompletionRequest",
    "EmbeddingRequest",
    "check_supported",
    "parse_chat_request",
    "parse_embedding_request",
]
