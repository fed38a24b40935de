"""API: a tenant's rate limit and budget: checked before the body, reserved, settled after."""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil

from gateway.errors import RateLimitError
from gateway.limits.backend import SpendHold
from gateway.limits.enforce import check_caller, check_limits, settle_usage
from gateway.routing.decision import Decision
from gateway.routing.engine import estimate_cost
from gateway.routing.policy import Tenant
from gateway.service.context import CallContext
from gateway.service.state import GatewayState
from gateway.translation.openai_to_converse import output_budget


@dataclass(frozen=True)
class Admission:
    """What a request was admitted with, so the answer can settle the difference."""

    tenant: Tenant | None
    estimated_tokens: int
    hold: SpendHold | None = None


def cost_bound(decision: Decision, prompt_tokens: int, max_tokens: int | None) -> float:
    """What the call may cost at most: the prompt estimate (+20%, as the output room is
    computed) and every output token the call may produce, on the dearest candidate it may
    fall back to, at its dearest price (cache writes, tiers). The budget reserves this, so
    concurrent requests cannot all pass."""
    prompt = ceil(prompt_tokens * 1.2)
    worst = 0.0
    for candidate in decision.candidates:
        model = candidate.model
        output = max_tokens or output_budget(
            prompt_tokens, model.max_output_tokens, model.context_window
        )
        worst = max(worst, estimate_cost(model, prompt, output))
        for price in (model.price, *(p for _, p in model.tier_prices)):
            # a cache write or a dearer tier (priority) may cost more than the input price
            top = max(price.input_per_mtok, price.cache_write_per_mtok or 0.0)
            worst = max(worst, (prompt * top + output * price.output_per_mtok) / 1e6)
    return worst


async def admit_caller(state: GatewayState, ctx: CallContext) -> None:
    """Before the body is read (its size is the client's choice): a spent budget or an
    exhausted request rate is refused while the request has cost next to nothing."""
    tenant = state.policy.tenants.get(ctx.tenant)
    if tenant is None or (tenant.rate_limit is None and tenant.usd_per_day is None):
        return
    try:
        await check_caller(state.limits, tenant)
    except RateLimitError:
        state.metrics.rate_limited.labels(state.metrics.tenant(tenant.name)).inc()
        raise


async def admit(
    state: GatewayState, ctx: CallContext, estimated_tokens: int, reserve_usd: float = 0.0
) -> Admission:
    """Reserve ``reserve_usd`` of the tenant's budget and take its rate limit, or refuse with
    a 429 when either is exhausted."""
    tenant = state.policy.tenants.get(ctx.tenant)
    if tenant is None or (tenant.rate_limit is None and tenant.usd_per_day is None):
        return Admission(None, estimated_tokens)
    try:
        hold = await check_limits(state.limits, tenant, estimated_tokens, reserve_usd)
    except RateLimitError:
        state.metrics.rate_limited.labels(state.metrics.tenant(tenant.name)).inc()
        raise
    return Admission(tenant, estimated_tokens, hold)


async def settle(state: GatewayState, admission: Admission, ctx: CallContext) -> None:
    """Correct the token bucket by the real usage and replace the budget's reservation by the
    real cost (``ctx.cost_usd``: 0 when no answer came, which releases it)."""
    if admission.tenant is None:
        return
    await settle_usage(
        state.limits,
        admission.tenant,
        estimated_tokens=admission.estimated_tokens,
        actual_tokens=ctx.input_tokens + ctx.output_tokens,
        usd=ctx.cost_usd,
        hold=admission.hold,
    )
