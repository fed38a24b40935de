"""Limits: a tenant's budget and rate limit checked before the body is read and again once
the request is priced, and settled after the answer."""

from __future__ import annotations

from gateway.errors import QuotaExceededError, RateLimitError
from gateway.limits.backend import LimitResult, LimitsBackend
from gateway.routing.policy import RateLimit, Tenant


async def check_caller(backend: LimitsBackend, tenant: Tenant) -> None:
    """Before the body is read: refuse a tenant whose budget is spent, and take the request
    from its requests-per-minute bucket (so work that grows with the body is only done for a
    caller that may ask now)."""
    await _check_budget(backend, tenant)
    limit = tenant.rate_limit
    if limit is None or not limit.requests_per_minute:
        return
    result = await backend.acquire(tenant.name, RateLimit(limit.requests_per_minute, None), 0)
    if not result.allowed:
        raise RateLimitError(
            _rate_message(tenant.name, limit, result), retry_after=result.retry_after_s
        )


async def check_limits(backend: LimitsBackend, tenant: Tenant, estimated_tokens: int) -> None:
    """Once the request is priced: raise ``QuotaExceededError`` when today's budget is spent,
    else ``RateLimitError`` when the estimate does not fit the tenant's tokens per minute
    (the request itself was taken by ``check_caller``)."""
    await _check_budget(backend, tenant)
    limit = tenant.rate_limit
    if limit is None or not limit.tokens_per_minute:
        return
    result = await backend.acquire(
        tenant.name, RateLimit(None, limit.tokens_per_minute), estimated_tokens
    )
    if not result.allowed:
        raise RateLimitError(
            _rate_message(tenant.name, limit, result), retry_after=result.retry_after_s
        )


async def _check_budget(backend: LimitsBackend, tenant: Tenant) -> None:
    if tenant.usd_per_day is None:
        return
    spend = await backend.spend_allowed(tenant.name, tenant.usd_per_day)
    if not spend.allowed:
        raise QuotaExceededError(
            f"Daily budget of ${tenant.usd_per_day:g} for tenant '{tenant.name}' is spent; "
            "it resets at 00:00 UTC.",
            retry_after=spend.retry_after_s,
        )


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
    backend: LimitsBackend, tenant: Tenant, *, estimated_tokens: int, actual_tokens: int, usd: float
) -> None:
    """After an answer: correct the token bucket by the real usage and count the spend."""
    limit = tenant.rate_limit
    if limit is not None and limit.tokens_per_minute:
        await backend.settle_tokens(tenant.name, limit, estimated_tokens, actual_tokens)
    if usd > 0:
        await backend.add_spend(tenant.name, usd)
