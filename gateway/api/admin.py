"""API: the gateway's own endpoints — explain a routing decision, reload the policy."""

from __future__ import annotations

import asyncio
import logging
import math
import time

import orjson
from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from gateway.api.chat import plan_chat
from gateway.api.deps import get_state, require_admin
from gateway.errors import InvalidRequestError, NotFoundError
from gateway.routing.engine import decision_to_dict
from gateway.routing.loader import load_policy
from gateway.routing.policy import PolicyError, feature_names
from gateway.routing.stats import PeekStats
from gateway.service.context import CallContext
from gateway.service.state import GatewayState

router = APIRouter()
log = logging.getLogger("gateway.policy")


@router.post("/v1/gateway/explain")
async def explain(request: Request) -> Response:
    """The routing decision for a chat body, without calling Bedrock."""
    state = get_state(request)
    ctx: CallContext = request.state.call
    plan = await plan_chat(request, state, ctx, stats=PeekStats(state.stats))
    body = decision_to_dict(plan.decision)
    return Response(orjson.dumps(body), media_type="application/json")


@router.post("/v1/gateway/reload")
async def reload(request: Request) -> Response:
    state = get_state(request)
    require_admin(request, state)
    try:
        await asyncio.to_thread(reload_policy, state)  # parsing YAML never holds the loop
    except PolicyError as exc:
        raise InvalidRequestError(f"Policy refused, the old one keeps serving: {exc}") from None
    body = {"status": "reloaded", "policy": state.policy_source, "routes": len(state.policy.routes)}
    return Response(orjson.dumps(body), media_type="application/json")


@router.get("/v1/gateway/benches")
async def list_benches(request: Request) -> Response:
    """Models benched after a model-level refusal or by discovery, with the reason and the
    time left (None for discovery's, which last until the next successful discovery)."""
    state = get_state(request)
    require_admin(request, state)
    now = time.monotonic()
    benches = [
        {
            "model": entry.model,
            "reason": entry.reason,
            "features": feature_names(entry.features) if entry.features else [],
            "seconds_left": round(entry.until - now, 1) if entry.until != math.inf else None,
            "source": entry.source,
        }
        for entry in state.stats.bench.active(now)
    ]
    body = {"object": "list", "data": benches}
    return Response(orjson.dumps(body), media_type="application/json")


@router.delete("/v1/gateway/benches")
async def lift_benches(request: Request) -> Response:
    """Lift the benches of one model (``?model=name``) or of all: after access was granted,
    a bench need not run out. Per worker, like the bench itself."""
    state = get_state(request)
    require_admin(request, state)
    model = request.query_params.get("model") or None
    if model is not None and model not in state.policy.models:
        raise NotFoundError(f"The model '{model[:100]}' is not in the catalogue.", param="model")
    lifted = state.stats.bench.lift(model)
    return Response(orjson.dumps({"lifted": lifted}), media_type="application/json")


def reload_policy(state: GatewayState) -> None:
    """Load the policy anew; on any error the old policy stays and the error propagates."""
    try:
        policy = load_policy(
            state.settings.policies,
            default_key_hashes=state.settings.api_key_hashes(),
            region=state.region,
        )
    except PolicyError as exc:
        state.metrics.policy_reloads.labels("error").inc()
        log.error("policy reload refused: %s", exc)
        raise
    state.policy = policy
    state.policy_loaded_at = int(time.time())
    state.metrics.policy_reloads.labels("success").inc()
    log.info("policy reloaded from %s", state.policy_source)
