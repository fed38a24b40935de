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
from gateway.api.accounting import note_prefix, record_usage, usage_cost
from gateway.api.caching import lookup, plan_cache
from gateway.api.context import CallContext, new_id
from gateway.api.deps import (
    authenticate,
    check_json_depth,
    decode_json_body,
    get_state,
    read_body,
    request_bounds,
    requested_model,
)
from gateway.api.flight import answer_once
from gateway.api.limiting import admit, admit_caller, cost_bound, settle
from gateway.api.openapi import chat_request_body
from gateway.api.pipeline import with_fallback
from gateway.api.shadow_hook import ShadowHook
from gateway.api.state import GatewayState
from gateway.api.streaming import ChatSSE, ChunkEncoder, replay_stream, stream_chat
from gateway.cache.answers import CachedAnswer, replay_chunks, replay_completion
from gateway.cache.prefixes import scope_of
from gateway.errors import UpstreamMalformedError
from gateway.providers.bedrock import REQUEST_ID_KEY
from gateway.routing.decision import Candidate, Decision, RouteRequest
from gateway.routing.engine import choose
from gateway.routing.levers import call_levers, requested_tier
from gateway.routing.policy import ModelSpec
from gateway.routing.stats import StatsView
from gateway.schemas.bounds import check_chat_bytes, check_chat_counts
from gateway.schemas.chat import ChatCompletionRequest
from gateway.schemas.parse import check_extras, parse_chat_request
from gateway.translation.converse_to_openai import (
    chat_completion,
    converse_problem,
    served_latency,
    served_tier,
)
from gateway.translation.openai_to_converse import (
    Levers,
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
    service_tier: str | None = None  # the client's (checked); None: the route's default
    region: str = "us-east-1"  # the policy's region (latency-optimized offers are regional)
    cache_scope: str = ""  # tenant and prompt_cache_key (``cache.prefixes.scope_of``)


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
    return await plan_parsed(request, state, ctx, parse_chat_request(body), stats=stats)


async def plan_parsed(
    request: Request,
    state: GatewayState,
    ctx: CallContext,
    req: ChatCompletionRequest,
    *,
    stats: StatsView | None = None,
) -> ChatPlan:
    """``plan_chat`` after the caller's checks and the bounded parse (``/v1/responses``
    builds ``req`` from its own body)."""
    if req.extras:
        check_extras(req.extras, state.policy.extra_fields)
    tier = requested_tier(req.service_tier)
    images = await _fetch_images(state, req)
    prepared = prepare_conversation(
        req, images=images, allow_image_urls=state.settings.allow_image_urls
    )
    scope = scope_of(ctx.tenant, req.prompt_cache_key)
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
        needs_documents=prepared.uses_documents,
        service_tier=tier,
        cached_prefix=state.prefixes.warm(scope, state.policy.models, prepared.prefix_digest),
    )
    decision = choose(route_request, state.policy, stats or state.stats, rng=state.rng)
    state.recent_decisions.append((time.time(), decision))
    ctx.route = decision.route
    ctx.strategy = decision.strategy
    ctx.deadline = time.monotonic() + decision.timeout_s
    if req.extras:
        check_extras(req.extras, decision.levers.extra_fields)
    first = decision.candidates[0]
    ctx.model, ctx.bedrock_id = first.model.name, first.call_id
    return ChatPlan(
        request=req,
        prepared=prepared,
        decision=decision,
        completion_id=new_id("chatcmpl-"),
        created=int(time.time()),
        shadow_opt_out=request.headers.get("x-gateway-shadow", "").strip().lower() == "off",
        service_tier=tier,
        region=state.policy.region,
        cache_scope=scope,
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
        levers=body_levers(plan, model),
    )
    return orjson.dumps(body)


def body_levers(plan: ChatPlan, model: ModelSpec) -> Levers:
    """The route's levers as this model can take them (offered by the table, priced by the
    catalogue), with the client's route-allowed extra fields."""
    chosen = call_levers(
        plan.decision.levers, model.caps, model.tier_price_map, plan.region, plan.service_tier
    )
    return Levers(
        prompt_cache=chosen.prompt_cache,
        service_tier=chosen.service_tier,
        latency_optimized=chosen.latency_optimized,
        extra_fields=plan.request.extras,
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


def check_converse(model_id: str, resp: dict[str, Any]) -> None:
    """A 200 that is not a Converse answer is a 502 naming the model (never a 500)."""
    problem = converse_problem(resp)
    if problem is not None:
        raise UpstreamMalformedError(
            f"Bedrock answered model {model_id} with a body that is not a Converse response: "
            f"{problem}."
        )


async def complete_chat(state: GatewayState, plan: ChatPlan, ctx: CallContext) -> dict[str, Any]:
    """A non-streamed answer: Converse with fallback, then the OpenAI body."""
    bedrock = state.require_bedrock()

    async def attempt(candidate: Candidate, timeout: float) -> dict[str, Any]:
        started = time.perf_counter()
        resp = await bedrock.converse(
            candidate.call_id, converse_bytes(plan, candidate), timeout=timeout
        )
        check_converse(candidate.call_id, resp)
        elapsed = time.perf_counter() - started
        state.stats.record_success(candidate.model.name, latency_ms=elapsed * 1000.0)
        state.metrics.upstream_duration.labels(candidate.model.name).observe(elapsed)
        ctx.upstream_request_id = resp.get(REQUEST_ID_KEY, {}).get("RequestId", "")
        return resp

    resp = await with_fallback(state, plan.decision, ctx, attempt)
    ctx.service_tier = served_tier(resp)
    completion = chat_completion(
        resp,
        completion_id=plan.completion_id,
        model=ctx.bedrock_id,
        created=plan.created,
        prepared=plan.prepared,
    )
    usage = completion.get("usage")
    record_usage(state, plan.decision, ctx, usage, ctx.service_tier, served_latency(resp))
    note_prefix(state, plan.cache_scope, plan.prepared, ctx.model, usage)
    ctx.finish_reason = str((completion.get("choices") or [{}])[0].get("finish_reason") or "")
    return completion
