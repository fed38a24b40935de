"""API: a tenant's rate limit and budget around a model call — checked first, settled after."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.api.context import CallContext
from gateway.api.state import GatewayState
from gateway.errors import RateLimitError
from gateway.limits.enforce import check_caller, check_limits, settle_usage
from gateway.routing.policy import Tenant


@dataclass(frozen=True)
class Admission:
    """What a request was admitted with, so the answer can settle the difference."""

    tenant: Tenant | None
    estimated_tokens: int


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


async def admit(state: GatewayState, ctx: CallContext, estimated_tokens: int) -> Admission:
    """Refuse with 429 when the tenant's budget or rate limit is exhausted."""
    tenant = state.policy.tenants.get(ctx.tenant)
    if tenant is None or (tenant.rate_limit is None and tenant.usd_per_day is None):
        return Admission(None, estimated_tokens)
    try:
        await check_limits(state.limits, tenant, estimated_tokens)
    except RateLimitError:
        state.metrics.rate_limited.labels(state.metrics.tenant(tenant.name)).inc()
        raise
    return Admission(tenant, estimated_tokens)


async def settle(state: GatewayState, admission: Admission, ctx: CallContext) -> None:
    """Correct the token bucket by the real usage and count the real spend."""
    if admission.tenant is None:
        return
    await settle_usage(
        state.limits,
        admission.tenant,
        estimated_tokens=admission.estimated_tokens,
        actual_tokens=ctx.input_tokens + ctx.output_tokens,
        usd=ctx.cost_usd,
    )
