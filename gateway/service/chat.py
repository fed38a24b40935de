"""Service: a chat request planned (translated and routed) and answered by Converse with
fallback; the HTTP endpoints (chat completions, Responses, explain) parse and render around it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.cache.prefixes import scope_of
from gateway.errors import UpstreamMalformedError
from gateway.jsonbytes import json_bytes
from gateway.providers.bedrock import REQUEST_ID_KEY
from gateway.routing.decision import Candidate, Decision, RouteRequest
from gateway.routing.engine import choose
from gateway.routing.levers import call_levers, requested_tier
from gateway.routing.policy import ModelSpec
from gateway.routing.stats import StatsView
from gateway.schemas.chat import ChatCompletionRequest
from gateway.schemas.parse import check_extras
from gateway.service.accounting import note_prefix, record_usage
from gateway.service.context import CallContext, new_id
from gateway.service.fallback import with_fallback
from gateway.service.state import GatewayState
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


async def plan_parsed(
    state: GatewayState,
    ctx: CallContext,
    req: ChatCompletionRequest,
    headers: Mapping[str, str],
    *,
    stats: StatsView | None = None,
) -> ChatPlan:
    """A parsed chat request translated and routed (``headers``: the request's, lowercase,
    for header rules and the shadow opt-out). The HTTP layer has checked the caller and
    bounded the body; ``/v1/responses`` builds ``req`` from its own body."""
    extras = req.extras  # a pydantic private attribute: read once
    if extras:
        check_extras(extras, state.policy.extra_fields)
    tier = requested_tier(req.service_tier)
    images = await _fetch_images(state, req)
    prepared = prepare_conversation(
        req, images=images, allow_image_urls=state.settings.allow_image_urls
    )
    scope = scope_of(ctx.tenant, req.prompt_cache_key)
    route_request = RouteRequest(
        model=req.model,
        tenant=ctx.tenant,
        headers=headers,
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
    if extras:
        check_extras(extras, decision.levers.extra_fields)
    first = decision.candidates[0]
    ctx.model, ctx.bedrock_id = first.model.name, first.call_id
    return ChatPlan(
        request=req,
        prepared=prepared,
        decision=decision,
        completion_id=new_id("chatcmpl-"),
        created=int(time.time()),
        shadow_opt_out=headers.get("x-gateway-shadow", "").strip().lower() == "off",
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
    return json_bytes(body)


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
