"""Limits: a tenant's budget and request rate checked before the body is read; the budget
reserved and the tokens taken once the request is priced; both settled after the call."""

from __future__ import annotations

from gateway.errors import QuotaExceededError, RateLimitError
from gateway.limits.backend import LimitResult, LimitsBackend, SpendHold
from gateway.routing.policy import RateLimit, Tenant


async def check_caller(backend: LimitsBackend, tenant: Tenant) -> None:
    """Before the body is read: refuse a tenant whose budget is spent (read only: nothing is
    reserved yet), and take the request from its requests-per-minute bucket, so work that
    grows with the body is only done for a caller that may ask now."""
    if tenant.usd_per_day is not None:
        spend = await backend.spend_allowed(tenant.name, tenant.usd_per_day)
        if not spend.allowed:
            raise QuotaExceededError(
                f"Daily budget of ${tenant.usd_per_day:g} for tenant '{tenant.name}' is spent; "
                "it resets at 00:00 UTC.",
                retry_after=spend.retry_after_s,
            )
    limit = tenant.rate_limit
    if limit is None or not limit.requests_per_minute:
        return
    result = await backend.acquire(tenant.name, RateLimit(limit.requests_per_minute, None), 0)
    if not result.allowed:
        raise RateLimitError(
            _rate_message(tenant.name, limit, result), retry_after=result.retry_after_s
        )


async def check_limits(
    backend: LimitsBackend, tenant: Tenant, estimated_tokens: int, reserve_usd: float = 0.0
) -> SpendHold | None:
    """Reserve ``reserve_usd`` of today's budget (the hold to settle), raising
    ``QuotaExceededError`` when it is spent; then ``RateLimitError`` (the hold released) when
    the estimate does not fit the tenant's tokens per minute (which then consumes nothing;
    the request itself was taken by ``check_caller``)."""
    hold = None
    if tenant.usd_per_day is not None:
        spend, hold = await backend.reserve_spend(tenant.name, tenant.usd_per_day, reserve_usd)
        if not spend.allowed:
            raise QuotaExceededError(
                f"Daily budget of ${tenant.usd_per_day:g} for tenant '{tenant.name}' is spent; "
                "it resets at 00:00 UTC.",
                retry_after=spend.retry_after_s,
            )
    limit = tenant.rate_limit
    if limit is None or not limit.tokens_per_minute:
        return hold
    tokens_only = RateLimit(None, limit.tokens_per_minute)
    result = await backend.acquire(tenant.name, tokens_only, estimated_tokens)
    if not result.allowed:
        if hold is not None:
            await backend.settle_spend(hold, 0.0)
        raise RateLimitError(
            _rate_message(tenant.name, limit, result), retry_after=result.retry_after_s
        )
    return hold


def _rate_message(tenant: str, limit: RateLimit, result: LimitResult) -> str:
    if result.which == "tokens":
        what = f"{limit.tokens_per_minute} tokens per minute"
    else:
        what = f"{limit.requests_per_minute} requests per minute"
    return (
        f"Rate limit reached for tenant '{tenant}': {what}. "
        f"Please try again in {max(result.retry_after_s, 0.001):.3g}s."
    )


async def settle_usage(
    backend: LimitsBackend,
    tenant: Tenant,
    *,
    estimated_tokens: int,
    actual_tokens: int,
    usd: float,
    hold: SpendHold | None = None,
) -> None:
    """After the call: correct the token bucket by the real usage, and replace the budget's
    reservation by the real cost (0 for a call that failed: the reservation is released)."""
    limit = tenant.rate_limit
    if limit is not None and limit.tokens_per_minute:
        await backend.settle_tokens(tenant.name, limit, estimated_tokens, actual_tokens)
    if hold is not None:
        await backend.settle_spend(hold, usd)
