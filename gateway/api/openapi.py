"""API: the OpenAPI document describes the bodies the gateway parses itself.

The hot endpoints read raw bytes (no FastAPI body validation, which would answer 422);
their request schemas are attached here so the document stays complete for clients and fuzzers.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from gateway.schemas.chat import ChatCompletionRequest
from gateway.schemas.embeddings import EmbeddingRequest
from gateway.schemas.responses import ResponsesRequest

_REF = "#/components/schemas/{model}"


@cache
def _schema(model: type[BaseModel]) -> tuple[dict[str, Any], dict[str, Any]]:
    schema = model.model_json_schema(ref_template=_REF)
    defs = schema.pop("$defs", {})
    return schema, defs


def _body(model: type[BaseModel]) -> dict[str, Any]:
    schema, _ = _schema(model)
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema}},
        }
    }


def chat_request_body() -> dict[str, Any]:
    return _body(ChatCompletionRequest)


def embedding_request_body() -> dict[str, Any]:
    return _body(EmbeddingRequest)


def responses_request_body() -> dict[str, Any]:
    return _body(ResponsesRequest)


def install_openapi(app: FastAPI) -> None:
    """Merge the request models' ``$defs`` into ``components.schemas``."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(title=app.title, version=app.version, routes=app.routes)
            components = doc.setdefault("components", {}).setdefault("schemas", {})
            for model in (ChatCompletionRequest, EmbeddingRequest, ResponsesRequest):
                components.update(_schema(model)[1])
            app.openapi_schema = doc
        return app.openapi_schema

    setattr(app, "openapi", build)  # noqa: B010 - FastAPI's documented override point
