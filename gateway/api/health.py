"""API: liveness, readiness and the Prometheus scrape endpoint."""

from __future__ import annotations

import hmac

import orjson
from fastapi import APIRouter
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response

from gateway.api.deps import bearer_token, get_state
from gateway.config import sha256_hex
from gateway.errors import AuthenticationError, NotFoundError

router = APIRouter()


@router.get("/healthz")
async def healthz() -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


@router.get("/readyz")
async def readyz(request: Request) -> Response:
    """Ready once a policy is loaded and Bedrock credentials exist (503 with the reason until
    then: a pod that starts before its IRSA token must not take traffic); Redis trouble is
    reported, never fatal (fail open)."""
    state = get_state(request)
    problem = await state.bedrock.credentials_problem() if state.bedrock is not None else None
    body: dict[str, object] = {
        "status": "ready" if problem is None else "not ready",
        "policy": state.policy_source,
        "routes": len(state.policy.routes),
        "cache": state.cache.kind,
        "redis": state.redis_state,
        "bedrock": "configured" if state.bedrock is not None else "starting",
    }
    if problem is not None:
        body["reason"] = problem
    return Response(
        orjson.dumps(body),
        status_code=200 if problem is None else 503,
        media_type="application/json",
    )


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    """Prometheus text; behind ``GATEWAY_METRICS_KEY`` (Bearer) when set, since it carries
    routes and tenants' spend, and only on ``GATEWAY_METRICS_PORT`` when that is set."""
    state = get_state(request)
    port = state.settings.metrics_port
    if port is not None and local_port(request) != port:
        raise NotFoundError(f"/metrics is served on port {port} only.")
    wanted = state.settings.metrics_key_hash()
    if wanted is not None:
        presented = sha256_hex(bearer_token(request))
        if not hmac.compare_digest(presented, wanted):
            raise AuthenticationError("Incorrect metrics key provided.")
    state.metrics.set_circuits(state.stats.snapshot())
    benched = {entry.model for entry in state.stats.bench.active() if entry.features == 0}
    state.metrics.set_benched(state.policy.models, benched)
    return Response(state.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)


def local_port(request: Request) -> int | None:
    server = request.scope.get("server")
    return int(server[1]) if server and server[1] is not None else None
