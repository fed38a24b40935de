"""API: the OpenAPI document describes the bodies the gateway parses itself.

The hot endpoints read raw bytes (no FastAPI body validation, which would answer 422);
their request schemas are attached here so the document stays complete for clients and fuzzers.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from gateway.schemas.chat import ChatCompletionRequest
from gateway.schemas.embeddings import EmbeddingRequest
from gateway.schemas.responses import ResponsesRequest

_REF = "#/components/schemas/{model}"


#: The bodies the hot endpoints parse themselves, by path and method.
REQUEST_BODIES: dict[tuple[str, str], type[BaseModel]] = {
    ("/v1/chat/completions", "post"): ChatCompletionRequest,
    ("/v1/gateway/explain", "post"): ChatCompletionRequest,
    ("/v1/embeddings", "post"): EmbeddingRequest,
    ("/v1/responses", "post"): ResponsesRequest,
}


def path_parameters(*names: str) -> dict[str, Any]:
    """The document's entry for path parameters a handler reads from ``request.path_params``.

    A typed handler argument (``response_id: str``) makes FastAPI import ``pydantic.v1`` to
    check that the annotation is not a v1 model: 1.5 MB in every worker, for a string."""
    return {
        "parameters": [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in names
        ]
    }


def install_openapi(app: FastAPI) -> None:
    """Attach ``REQUEST_BODIES`` and merge their ``$defs`` into ``components.schemas`` when
    the document is first asked for: built at import, the schemas held 0.35 MB in every
    worker, which most never serve. (They are pydantic's schemas as they are: FastAPI's own
    pass would drop ``"default": null`` and write bounds as floats.)"""

    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(title=app.title, version=app.version, routes=app.routes)
            components = doc.setdefault("components", {}).setdefault("schemas", {})
            for (path, method), model in REQUEST_BODIES.items():
                schema = model.model_json_schema(ref_template=_REF)
                components.update(schema.pop("$defs", {}))
                operation = doc.get("paths", {}).get(path, {}).get(method)
                if operation is not None:
                    content = {"application/json": {"schema": schema}}
                    operation["requestBody"] = {"required": True, "content": content}
            app.openapi_schema = doc
        return app.openapi_schema

    setattr(app, "openapi", build)  # noqa: B010 - FastAPI's documented override point
