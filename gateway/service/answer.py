"""Service: answering a planned chat request, for every endpoint that answers one (chat
completions, the Responses API): budget, cache, single-flight, Bedrock with fallback (or the
stream), shadow hand-off. A ``Presenter`` says how the answer is shown."""

from __future__ import annotations

import functools
from typing import Any, Protocol

from gateway.cache.answers import CachedAnswer, replay_chunks, replay_completion
from gateway.jsonbytes import json_bytes
from gateway.service.accounting import usage_cost
from gateway.service.caching import lookup, plan_cache
from gateway.service.chat import ChatPlan
from gateway.service.context import CallContext, note_debug
from gateway.service.flight import answer_once
from gateway.service.limiting import admit, cost_bound, settle
from gateway.service.replies import JsonReply, Reply
from gateway.service.shadow_hook import ShadowHook
from gateway.service.state import GatewayState
from gateway.service.streaming import ChatSSE, ChunkEncoder, replay_stream, stream_chat


class Presenter(Protocol):
    """How an answer of the chat pipeline is shown: as chat, or as a Responses object."""

    async def body(self, completion: dict[str, Any]) -> bytes: ...

    def encoder(self) -> ChunkEncoder: ...


class ChatPresenter:
    async def body(self, completion: dict[str, Any]) -> bytes:
        return json_bytes(completion)

    def encoder(self) -> ChunkEncoder:
        return ChatSSE()


CHAT = ChatPresenter()


async def serve_chat(
    state: GatewayState,
    plan: ChatPlan,
    ctx: CallContext,
    cache_control: str | None,
    present: Presenter,
) -> Reply:
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
    hook = state.shadow
    if hook is not None and route is not None and route.shadow is not None:
        after = functools.partial(offer_to_shadow, hook, plan, ctx, answer.completion)
    return JsonReply(await present.body(answer.completion), ctx.headers(), after)


async def offer_to_shadow(
    hook: ShadowHook, plan: ChatPlan, ctx: CallContext, completion: dict[str, Any]
) -> None:
    """Run on the event loop after the body was sent (a plain function would take a thread)."""
    hook.after_answer(plan, ctx, completion)


async def answer_from_cache(
    state: GatewayState, plan: ChatPlan, ctx: CallContext, hit: CachedAnswer, present: Presenter
) -> Reply:
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
        return JsonReply(await present.body(body), ctx.headers())
    options = plan.request.stream_options
    chunks = replay_chunks(
        hit,
        completion_id=plan.completion_id,
        created=plan.created,
        include_usage=bool(options and options.include_usage),
    )
    return replay_stream(chunks, ctx, present.encoder(), hit.completion)
