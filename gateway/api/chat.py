"""API: ``POST /v1/chat/completions`` — the HTTP side: check the caller, bound and parse the
body; the service layer plans and answers (``serve_chat``); this renders JSON or SSE."""

from __future__ import annotations

from typing import Any, Protocol

import orjson
from fastapi import APIRouter
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response

from gateway.api.access_log import note_debug
from gateway.api.deps import (
    authenticate,
    check_json_depth,
    decode_json_body,
    get_state,
    read_body,
    request_bounds,
    requested_model,
)
from gateway.api.openapi import chat_request_body
from gateway.api.streaming import ChatSSE, ChunkEncoder, replay_stream, stream_chat
from gateway.cache.answers import CachedAnswer, replay_chunks, replay_completion
from gateway.routing.stats import StatsView
from gateway.schemas.bounds import check_chat_bytes, check_chat_counts
from gateway.schemas.parse import parse_chat_request
from gateway.service.accounting import usage_cost
from gateway.service.caching import lookup, plan_cache
from gateway.service.chat import ChatPlan, plan_parsed
from gateway.service.context import CallContext
from gateway.service.flight import answer_once
from gateway.service.limiting import admit, admit_caller, cost_bound, settle
from gateway.service.shadow_hook import ShadowHook
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
        state, ctx, parse_chat_request(body), request.headers, stats=stats
    )


@router.post(
    "/v1/chat/completions",
    openapi_extra=chat_request_body(),
    responses={200: {"description": "A chat.completion, or an SSE stream of chunks"}},
)
async def chat_completions(request: Request) -> Response:
    state = get_state(request)
    ctx: CallContext = request.state.call
    plan = await plan_chat(request, state, ctx)
    return await serve_chat(state, plan, ctx, request.headers.get("cache-control"), CHAT)


class Presenter(Protocol):
    """How an answer of the chat pipeline is shown: as chat, or as a Responses object."""

    async def body(self, completion: dict[str, Any]) -> bytes: ...

    def encoder(self) -> ChunkEncoder: ...


class ChatPresenter:
    async def body(self, completion: dict[str, Any]) -> bytes:
        return orjson.dumps(completion)

    def encoder(self) -> ChunkEncoder:
        return ChatSSE()


CHAT = ChatPresenter()


async def serve_chat(
    state: GatewayState,
    plan: ChatPlan,
    ctx: CallContext,
    cache_control: str | None,
    present: Presenter,
) -> Response:
    """Budget reservation, cache, single-flight, Bedrock with fallback and shadow: one
    pipeline for every endpoint that answers a chat request."""
    prompt_tokens = plan.prepared.prompt_tokens
    admission = await admit(
        state,
        ctx,
        prompt_tokens + plan.decision.output_tokens,
        cost_bound(plan.decision, prompt_tokens, plan.prepared.max_tokens),
    )
    state.metrics.routing_decisions.labels(ctx.route, ctx.model, ctx.strategy).inc()
    cache_plan = plan_cache(state, plan.request, plan.prepared, plan.decision, ctx, cache_control)
    hit = await lookup(state, cache_plan, ctx)
    if hit is not None:
        await settle(state, admission, ctx)
        return await answer_from_cache(state, plan, ctx, hit, present)
    if plan.request.stream:
        return await stream_chat(state, plan, ctx, cache_plan, admission, present.encoder())
    try:
        answer, follower = await answer_once(state, plan, ctx, cache_plan)
    finally:
        await settle(state, admission, ctx)
    if follower:
        ctx.cache = "hit"
        return await answer_from_cache(state, plan, ctx, answer, present)
    note_debug(ctx, state.settings.log_prompts, plan.request.messages, answer.completion)
    after = None
    route = state.policy.routes.get(plan.decision.route)
    if state.shadow is not None and route is not None and route.shadow is not None:
        after = BackgroundTask(offer_to_shadow, state.shadow, plan, ctx, answer.completion)
    return Response(
        await present.body(answer.completion),
        media_type="application/json",
        headers=ctx.headers(),
        background=after,
    )


async def offer_to_shadow(
    hook: ShadowHook, plan: ChatPlan, ctx: CallContext, completion: dict[str, Any]
) -> None:
    """Run on the event loop after the body was sent (a plain function would take a thread)."""
    hook.after_answer(plan, ctx, completion)


async def answer_from_cache(
    state: GatewayState, plan: ChatPlan, ctx: CallContext, hit: CachedAnswer, present: Presenter
) -> Response:
    """A cache hit costs nothing; what it would have cost is counted as saved."""
    note_debug(ctx, state.settings.log_prompts, plan.request.messages, hit.completion)
    ctx.model, ctx.bedrock_id = hit.model, hit.bedrock_id
    ctx.attempts = 0
    ctx.cost_usd = 0.0
    model = state.policy.models.get(hit.model)
    if model is not None:
        tier = str(hit.completion.get("service_tier") or "default")
        saved = usage_cost(model, hit.completion.get("usage") or {}, tier)
        state.metrics.cache_saved.labels(ctx.route).inc(saved)
    if not plan.request.stream:
        body = replay_completion(hit, completion_id=plan.completion_id, created=plan.created)
        return Response(
            await present.body(body), media_type="application/json", headers=ctx.headers()
        )
    options = plan.request.stream_options
    chunks = replay_chunks(
        hit,
        completion_id=plan.completion_id,
        created=plan.created,
        include_usage=bool(options and options.include_usage),
    )
    return replay_stream(chunks, ctx, present.encoder(), hit.completion)
