"""API: turning Bedrock's real usage into tokens, cost and metrics for one call."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.api.context import CallContext
from gateway.api.state import GatewayState
from gateway.routing.decision import Decision
from gateway.routing.engine import actual_cost
from gateway.routing.policy import ModelSpec


def usage_cost(model: ModelSpec, usage: Mapping[str, Any]) -> float:
    """USD for an OpenAI-shaped ``usage`` at the catalogue's prices."""
    prompt = int(usage.get("prompt_tokens") or 0)
    return actual_cost(model, prompt, int(usage.get("completion_tokens") or 0))


def record_usage(
    state: GatewayState, decision: Decision, ctx: CallContext, usage: Mapping[str, Any] | None
) -> None:
    """Count an answered call's tokens and spend (OpenAI-shaped ``usage``)."""
    if not usage:
        return
    prompt = int(usage.get("prompt_tokens") or 0)
    output = int(usage.get("completion_tokens") or 0)
    details = usage.get("prompt_tokens_details") or {}
    cached = int(details.get("cached_tokens") or 0)
    ctx.input_tokens, ctx.output_tokens, ctx.cached_tokens = prompt, output, cached
    model = state.policy.models.get(ctx.model)
    if model is None:
        return
    ctx.cost_usd = usage_cost(model, usage)
    tokens = state.metrics.tokens
    tokens.labels(ctx.model, "input").inc(prompt)
    tokens.labels(ctx.model, "output").inc(output)
    if cached:
        tokens.labels(ctx.model, "cached").inc(cached)
    state.metrics.cost.labels(decision.route, ctx.model, state.metrics.tenant(ctx.tenant)).inc(
        ctx.cost_usd
    )
