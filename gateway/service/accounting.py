"""API: turning Bedrock's real usage into tokens, cost and metrics for one call."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.routing.decision import Decision
from gateway.routing.levers import call_cost, price_of
from gateway.routing.policy import ModelSpec
from gateway.service.context import CallContext
from gateway.service.state import GatewayState
from gateway.translation.prepared import PreparedConversation


def usage_cost(
    model: ModelSpec,
    usage: Mapping[str, Any],
    service_tier: str = "default",
    latency: str = "standard",
) -> float:
    """USD for an OpenAI-shaped ``usage`` at the catalogue's prices of the tier (and latency)
    that served: cache reads and writes at their prices, the rest of the prompt at input's."""
    details = usage.get("prompt_tokens_details") or {}
    price = price_of(model.price, model.tier_price_map, service_tier, latency == "optimized")
    return call_cost(
        price,
        int(usage.get("prompt_tokens") or 0),
        int(usage.get("completion_tokens") or 0),
        cache_read=int(details.get("cached_tokens") or 0),
        cache_write=int(details.get("cache_write_tokens") or 0),
    )


def record_usage(
    state: GatewayState,
    decision: Decision,
    ctx: CallContext,
    usage: Mapping[str, Any] | None,
    service_tier: str = "default",
    latency: str = "standard",
) -> None:
    """Count an answered call's tokens and spend (OpenAI-shaped ``usage``)."""
    if not usage:
        return
    prompt = int(usage.get("prompt_tokens") or 0)
    output = int(usage.get("completion_tokens") or 0)
    details = usage.get("prompt_tokens_details") or {}
    cached = int(details.get("cached_tokens") or 0)
    ctx.input_tokens, ctx.output_tokens, ctx.cached_tokens = prompt, output, cached
    ctx.cache_write_tokens = int(details.get("cache_write_tokens") or 0)
    model = state.policy.models.get(ctx.model)
    if model is None:
        return
    ctx.cost_usd = usage_cost(model, usage, service_tier, latency)
    tokens = state.metrics.tokens
    tokens.labels(ctx.model, "input").inc(prompt)
    tokens.labels(ctx.model, "output").inc(output)
    if cached:
        tokens.labels(ctx.model, "cached").inc(cached)
    state.metrics.cost.labels(decision.route, ctx.model, state.metrics.tenant(ctx.tenant)).inc(
        ctx.cost_usd
    )


def note_prefix(
    state: GatewayState,
    scope: str,
    prepared: PreparedConversation,
    model: str,
    usage: Mapping[str, Any] | None,
) -> None:
    """Remember that ``model`` now holds the request's stable prefix when Bedrock read or
    wrote a cache for it (later estimates count those tokens as cache reads)."""
    details = (usage or {}).get("prompt_tokens_details") or {}
    cached = int(details.get("cached_tokens") or 0) + int(details.get("cache_write_tokens") or 0)
    if cached and prepared.prefix_digest:
        tokens = min(prepared.prefix_tokens, cached)
        state.prefixes.note(scope, model, prepared.prefix_digest, tokens)
