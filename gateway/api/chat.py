"""API: ``POST /v1/chat/completions`` — parse, route, call Bedrock with fallback, answer."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
from fastapi import APIRouter
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response

from gateway.api.access_log import note_debug
from gateway.api.accounting import record_usage, usage_cost
from gateway.api.caching import lookup, plan_cache
from gateway.api.context import CallContext, new_id
from gateway.api.deps import authenticate, get_state, read_json_body
from gateway.api.flight import answer_once
from gateway.api.limiting import admit, settle
from gateway.api.openapi import chat_request_body
from gateway.api.pipeline import with_fallback
from gateway.api.shadow_hook import ShadowHook
from gateway.api.state import GatewayState
from gateway.api.streaming import ChatSSE, ChunkEncoder, replay_stream, stream_chat
from gateway.cache.answers import CachedAnswer, replay_chunks, replay_completion
from gateway.providers.bedrock import REQUEST_ID_KEY
from gateway.routing.decision import Candidate, Decision, RouteRequest
from gateway.routing.engine import choose
from gateway.routing.stats import StatsView
from gateway.schemas.chat import ChatCompletionRequest
from gateway.schemas.parse import parse_chat_request
from gateway.translation.converse_to_openai import chat_completion
from gateway.translation.openai_to_converse import (
    PreparedConversation,
    converse_body,
    image_urls,
    output_budget,
    prepare_conversation,
)

router = APIRouter()


@dataclass(frozen=True)
class ChatPlan:
    """A parsed, translated and routed chat request, before any Bedrock call."""

    request: ChatCompletionRequest
    prepared: PreparedConversation
    decision: Decision
    completion_id: str
    created: int
    shadow_opt_out: bool = False


async def plan_chat(
    request: Request, state: GatewayState, ctx: CallContext, *, stats: StatsView | None = None
) -> ChatPlan:
    """Everything up to the routing decision; shared by chat and ``/v1/gateway/explain``
    (which passes read-only ``stats`` so that explaining never takes a circuit's probe)."""
    ctx.tenant = authenticate(request, state)
    body = await read_json_body(request, state.settings.max_body_bytes)
    return await plan_parsed(request, state, ctx, parse_chat_request(body), stats=stats)


async def plan_parsed(
    request: Request,
    state: GatewayState,
    ctx: CallContext,
    req: ChatCompletionRequest,
    *,
    stats: StatsView | None = None,
) -> ChatPlan:
    """``plan_chat`` after authentication and parsing (``/v1/responses`` builds ``req``)."""
    images = await _fetch_images(state, req)
    prepared = prepare_conversation(
        req, images=images, allow_image_urls=state.settings.allow_image_urls
    )
    route_request = RouteRequest(
        model=req.model,
        tenant=ctx.tenant,
        headers=request.headers,
        needs_tools=prepared.uses_tools,
        needs_images=prepared.uses_images,
        forces_tool=prepared.tool_choice is not None and "auto" not in prepared.tool_choice,
        stream=bool(req.stream),
        prompt_tokens=prepared.prompt_tokens,
        max_tokens=req.max_completion_tokens or req.max_tokens,
    )
    decision = choose(route_request, state.policy, stats or state.stats, rng=state.rng)
    state.recent_decisions.append((time.time(), decision))
    ctx.route = decision.route
    ctx.strategy = decision.strategy
    first = decision.candidates[0]
    ctx.model, ctx.bedrock_id = first.model.name, first.call_id
    ctx.cost_usd = first.est_cost_usd
    return ChatPlan(
        request=req,
        prepared=prepared,
        decision=decision,
        completion_id=new_id("chatcmpl-"),
        created=int(time.time()),
        shadow_opt_out=request.headers.get("x-gateway-shadow", "").strip().lower() == "off",
    )


async def _fetch_images(
    state: GatewayState, req: ChatCompletionRequest
) -> dict[str, tuple[str, bytes]] | None:
    if not state.settings.allow_image_urls or state.http is None:
        return None
    urls = image_urls(req)
    if not urls:
        return None
    from gateway.providers.image_fetch import fetch_image

    return {url: await fetch_image(state.http, url) for url in urls}


def converse_bytes(plan: ChatPlan, candidate: Candidate) -> bytes:
    """The body for one candidate; with no client limit, ``maxTokens`` is the catalogue
    entry's output limit within its context window (Bedrock's own defaults are as low as 512)."""
    guardrail = plan.decision.guardrail
    model = candidate.model
    body = converse_body(
        plan.prepared,
        candidate.call_id,
        guardrail=(guardrail.id, guardrail.version) if guardrail else None,
        default_max_tokens=output_budget(
            plan.prepared.prompt_tokens, model.max_output_tokens, model.context_window
        ),
    )
    return orjson.dumps(body)


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
    """Limits, cache, single-flight, Bedrock with fallback and shadow: one pipeline for
    every endpoint that answers a chat request."""
    admission = await admit(state, ctx, plan.prepared.prompt_tokens + plan.decision.output_tokens)
    state.metrics.routing_decisions.labels(ctx.route, ctx.model, ctx.strategy).inc()
    cache_plan = plan_cache(state, plan.request, plan.decision, ctx, cache_control)
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
    if state.shadow is not None:
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
        saved = usage_cost(model, hit.completion.get("usage") or {})
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


async def complete_chat(state: GatewayState, plan: ChatPlan, ctx: CallContext) -> dict[str, Any]:
    """A non-streamed answer: Converse with fallback, then the OpenAI body."""
    bedrock = state.require_bedrock()

    async def attempt(candidate: Candidate, timeout: float) -> dict[str, Any]:
        started = time.perf_counter()
        resp = await bedrock.converse(
            candidate.call_id, converse_bytes(plan, candidate), timeout=timeout
        )
        elapsed = time.perf_counter() - started
        state.stats.record_success(candidate.model.name, latency_ms=elapsed * 1000.0)
        state.metrics.upstream_duration.labels(candidate.model.name).observe(elapsed)
        ctx.upstream_request_id = resp.get(REQUEST_ID_KEY, {}).get("RequestId", "")
        return resp

    resp = await with_fallback(state, plan.decision, ctx, attempt)
    completion = chat_completion(
        resp,
        completion_id=plan.completion_id,
        model=ctx.bedrock_id,
        created=plan.created,
        prepared=plan.prepared,
    )
    record_usage(state, plan.decision, ctx, completion.get("usage"))
    return completion
