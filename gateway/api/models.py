"""API: ``GET /v1/models`` — the routes and catalogue names the caller's key may use."""

from __future__ import annotations

import orjson
from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from gateway.api.deps import authenticate, get_state
from gateway.routing.engine import allowed_names

router = APIRouter()


@router.get("/v1/models")
async def list_models(request: Request) -> Response:
    state = get_state(request)
    tenant = authenticate(request, state)
    data = [
        {"id": name, "object": "model", "created": 0, "owned_by": "bedrock-gateway"}
        for name in allowed_names(state.policy, tenant)
    ]
    return Response(orjson.dumps({"object": "list", "data": data}), media_type="application/json")
