"""API: ``GET /v1/models`` and ``GET /v1/models/{model}`` — the routes and catalogue names the
caller's key may use, as OpenAI model objects.

``created`` is when the live policy was loaded (Unix seconds): the moment these names became
what they are here. A name the key may not use is a 404 for that key, as an unknown one.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from gateway.api.deps import authenticate, get_state
from gateway.api.openapi import path_parameters
from gateway.errors import NotFoundError
from gateway.routing.engine import allowed_names
from gateway.service.state import GatewayState

router = APIRouter()
OWNER = "bedrock-gateway"


def _model(name: str, state: GatewayState) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": state.policy_loaded_at, "owned_by": OWNER}


@router.get("/v1/models")
async def list_models(request: Request) -> Response:
    state = get_state(request)
    tenant = authenticate(request, state)
    data = [_model(name, state) for name in allowed_names(state.policy, tenant)]
    return Response(orjson.dumps({"object": "list", "data": data}), media_type="application/json")


@router.get("/v1/models/{model:path}", openapi_extra=path_parameters("model"))
async def retrieve_model(request: Request) -> Response:
    model: str = request.path_params["model"]
    state = get_state(request)
    tenant = authenticate(request, state)
    if model not in allowed_names(state.policy, tenant):
        raise NotFoundError(
            f"The model '{model[:200]}' does not exist or you do not have access to it.",
            param="model",
        )
    return Response(orjson.dumps(_model(model, state)), media_type="application/json")
