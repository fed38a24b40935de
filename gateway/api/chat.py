"""API: ``POST /v1/chat/completions`` — the HTTP side: check the caller, bound and parse the
body; the service layer plans and answers (``serve_chat``); this renders JSON or SSE."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from gateway.api.deps import (
    authenticate,
    check_json_depth,
    decode_json_body,
    get_state,
    read_body,
    request_bounds,
    request_headers,
    requested_model,
)
from gateway.api.rendering import render
from gateway.routing.stats import StatsView
from gateway.schemas.bounds import check_chat_bytes, check_chat_counts
from gateway.schemas.parse import parse_chat_request
from gateway.service.answer import CHAT, serve_chat
from gateway.service.chat import ChatPlan, plan_parsed
from gateway.service.context import CallContext
from gateway.service.limiting import admit_caller
from gateway.service.state import GatewayState

router = APIRouter()


async def plan_chat(
    request: Request, state: GatewayState, ctx: CallContext, *, stats: StatsView | None = None
) -> ChatPlan:
    """Everything up to the routing decision; shared by chat and ``/v1/gateway/explain``
    (which passes read-only ``stats`` so that explaining never takes a circuit's probe)."""
    ctx.tenant = authenticate(request, state)
    await admit_caller(state, ctx)
    raw = await read_body(request, state.settings.max_body_bytes)
    bounds = request_bounds(state.settings)
    check_chat_bytes(raw, bounds)
    body = decode_json_body(raw, check_depth=False)
    ctx.requested = requested_model(body)
    check_chat_counts(body, bounds)
    check_json_depth(body, raw)
    return await plan_parsed(
        state, ctx, parse_chat_request(body), request_headers(request), stats=stats
    )


@router.post(
    "/v1/chat/completions",
    responses={200: {"description": "A chat.completion, or an SSE stream of chunks"}},
)
async def chat_completions(request: Request) -> Response:
    state = get_state(request)
    ctx: CallContext = request.state.call
    plan = await plan_chat(request, state, ctx)
    cache_control = request_headers(request).get("cache-control")
    return render(await serve_chat(state, plan, ctx, cache_control, CHAT))
