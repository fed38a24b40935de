"""API: ``GET /v1/gateway/shadow`` (admin key) — the shadow comparison per route and model."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from gateway.api.deps import get_state, require_admin
from gateway.service.state import GatewayState

router = APIRouter()


async def shadow_report(state: GatewayState) -> dict[str, Any]:
    """The running ``ShadowRunner``'s report; an empty one when shadowing is not wired."""
    from gateway.shadow.runner import ShadowRunner

    runner = state.shadow
    if isinstance(runner, ShadowRunner):
        return await runner.report()
    return {"object": "gateway.shadow_report", "store": "off", "degraded": False, "routes": {}}


@router.get("/v1/gateway/shadow")
async def get_shadow(request: Request) -> Response:
    state = get_state(request)
    require_admin(request, state)
    body = await shadow_report(state)
    return Response(orjson.dumps(body), media_type="application/json")
