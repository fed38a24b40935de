"""Tests: check_caller and check_limits raise OpenAI's 429s with retry-after, naming the limit."""

from __future__ import annotations

import pytest

from gateway.errors import QuotaExceededError, RateLimitError
from gateway.limits.enforce import check_caller, check_limits, settle_usage
from gateway.limits.memory import MemoryLimits
from gateway.routing.policy import RateLimit, Tenant


def tenant(rate: RateLimit | None = None, usd: float | None = None) -> Tenant:
    return Tenant("kids-app", frozenset(), None, 1, rate, usd)


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_requests_limit() -> None:
    limits = MemoryLimits(clock=Clock())
    t = tenant(RateLimit(600, None))
    for _ in range(600):
        await check_caller(limits, t)
        await check_limits(limits, t, 10)
    with pytest.raises(RateLimitError) as info:
        await check_caller(limits, t)
    err = info.value
    assert not isinstance(err, QuotaExceededError)
    assert err.status == 429 and err.code == "rate_limit_exceeded"
    assert "Rate limit reached for tenant 'kids-app': 600 requests per minute" in err.message
    assert err.retry_after == pytest.approx(0.1)
    assert err.headers() == {"retry-after": "1"}


async def test_tokens_limit() -> None:
    limits = MemoryLimits(clock=Clock())
    t = tenant(RateLimit(None, 1000))
    await check_limits(limits, t, 900)
    with pytest.raises(RateLimitError, match="1000 tokens per minute") as info:
        await check_limits(limits, t, 400)
    assert info.value.retry_after == pytest.approx(18.0)


async def test_budget_comes_first_and_consumes_no_rate() -> None:
    limits = MemoryLimits(clock=Clock())
    t = tenant(RateLimit(1, None), usd=2.0)
    hold = await check_limits(limits, tenant(usd=2.0), 0, reserve_usd=1.0)
    await settle_usage(limits, t, estimated_tokens=0, actual_tokens=0, usd=2.5, hold=hold)
    with pytest.raises(QuotaExceededError) as info:
        await check_caller(limits, t)
    with pytest.raises(QuotaExceededError):
        await check_limits(limits, t, 1)
    err = info.value
    assert err.error_type == "insufficient_quota" and err.code == "insufficient_quota"
    assert "Daily budget of $2 for tenant 'kids-app'" in err.message
    assert err.retry_after is not None and 0 < err.retry_after <= 86400
    assert (await limits.acquire("kids-app", RateLimit(1, None), 0)).allowed  # untouched


async def test_no_limits_never_refuses() -> None:
    limits = MemoryLimits(clock=Clock())
    for t in (tenant(), tenant(RateLimit(None, None))):
        for _ in range(100):
            await check_limits(limits, t, 10**6)


async def test_settle_usage_corrects_tokens() -> None:
    limits = MemoryLimits(clock=Clock())
    t = tenant(RateLimit(None, 1000))
    await check_limits(limits, t, 1000)
    await settle_usage(limits, t, estimated_tokens=1000, actual_tokens=200, usd=0.0)
    await check_limits(limits, t, 800)
    with pytest.raises(RateLimitError):
        await check_limits(limits, t, 1)


async def test_caller_check_takes_the_request_and_no_tokens() -> None:
    """Before the body: one request taken, the token bucket left to the priced check."""
    limits = MemoryLimits(clock=Clock())
    t = tenant(RateLimit(2, 1000))
    await check_caller(limits, t)
    await check_caller(limits, t)
    with pytest.raises(RateLimitError, match="2 requests per minute"):
        await check_caller(limits, t)
    await check_limits(limits, t, 1000)  # the priced check took no request
    with pytest.raises(RateLimitError, match="1000 tokens per minute"):
        await check_limits(limits, t, 1)


async def test_a_rate_limited_request_releases_its_reservation() -> None:
    limits = MemoryLimits(clock=Clock())
    t = tenant(RateLimit(None, 10), usd=1.0)
    await check_limits(limits, t, 10, reserve_usd=0.25)
    with pytest.raises(RateLimitError):
        await check_limits(limits, t, 10, reserve_usd=0.5)
    assert limits.spent_today("kids-app") == pytest.approx(0.25)


async def test_a_failed_call_releases_its_reservation() -> None:
    limits = MemoryLimits(clock=Clock())
    t = tenant(usd=1.0)
    hold = await check_limits(limits, t, 1, reserve_usd=0.9)
    await settle_usage(limits, t, estimated_tokens=1, actual_tokens=0, usd=0.0, hold=hold)
    assert limits.spent_today("kids-app") == 0
