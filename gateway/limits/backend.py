"""Limits: the interface of rate limits and budgets per tenant, and the token-bucket arithmetic.

Rate limits are two token buckets per tenant, one for requests and one for tokens: capacity is
the per-minute limit and they refill at limit/60 per second, so a tenant may burst up to the
limit and then sustains the limit per rolling minute. A request takes 1 from the first and its
estimated tokens from the second, both or neither. A request estimated above the whole
per-minute token limit is let through when the bucket is full (it would never fit otherwise)
and leaves the bucket in debt.

Budgets are USD per UTC day, reserved before the call: ``reserve_spend`` atomically adds the
request's cost bound to the day's counter when the counter is still below the budget, and
``settle_spend`` replaces the reservation by the real cost afterwards (0 when the call failed).
Concurrent requests therefore see each other's reservations, and the day's spend exceeds the
budget by at most the last admitted request's cost.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal, Protocol

from gateway.routing.policy import RateLimit

Which = Literal["requests", "tokens"]


@dataclass(frozen=True, slots=True)
class LimitResult:
    """``which`` names the exhausted limit (None for a budget or when allowed)."""

    allowed: bool
    retry_after_s: float = 0.0
    which: Which | None = None


ALLOWED = LimitResult(True)


@dataclass(frozen=True, slots=True)
class SpendHold:
    """A reservation on one day's spend counter; ``local`` when the in-memory fallback holds it
    (Redis failed at the time), so it is settled there too."""

    tenant: str
    day: str
    usd: float
    local: bool = False


class LimitsBackend(Protocol):
    async def acquire(self, tenant: str, limit: RateLimit, tokens: int) -> LimitResult:
        """Atomically take 1 request and ``tokens`` tokens, or nothing and say how long to wait."""
        ...

    async def settle_tokens(
        self, tenant: str, limit: RateLimit, estimated: int, actual: int
    ) -> None:
        """Correct the token bucket by ``actual - estimated`` once the real usage is known."""
        ...

    async def spend_allowed(self, tenant: str, usd_per_day: float) -> LimitResult:
        """Read only: refused once today's spend (reservations included) reached the budget
        (a cheap early check; only ``reserve_spend`` admits a call)."""
        ...

    async def reserve_spend(
        self, tenant: str, usd_per_day: float, usd: float
    ) -> tuple[LimitResult, SpendHold | None]:
        """Atomically: refused once today's spend (UTC, reservations included) reached the
        budget (retry at the next midnight), else ``usd`` is added and held."""
        ...

    async def settle_spend(self, hold: SpendHold, actual_usd: float) -> None:
        """Replace the held amount by what the call really cost."""
        ...


SPEND_TTL_S = 2 * 86400 + 3600  # a day's spend key outlives the day, then goes


def utc_day(wall: float) -> str:
    return dt.datetime.fromtimestamp(wall, dt.UTC).strftime("%Y-%m-%d")


def seconds_to_utc_midnight(wall: float) -> float:
    now = dt.datetime.fromtimestamp(wall, dt.UTC)
    midnight = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), dt.UTC)
    return max(0.0, (midnight - now).total_seconds())


def refilled(level: float, elapsed_s: float, capacity: float) -> float:
    """A bucket's level after ``elapsed_s`` of refilling at capacity/60 per second."""
    return min(capacity, level + max(0.0, elapsed_s) * capacity / 60.0)


def wait_s(level: float, need: float, capacity: float) -> float:
    """Seconds until a bucket at ``level`` holds ``need`` (0 when it already does)."""
    want = min(need, capacity)
    return 0.0 if level >= want else (want - level) * 60.0 / capacity


def refusal(wait_requests: float, wait_tokens: float) -> LimitResult:
    """Allowed when neither bucket must wait; else the longer wait names the limit."""
    if wait_requests <= 0 and wait_tokens <= 0:
        return ALLOWED
    if wait_requests >= wait_tokens:
        return LimitResult(False, wait_requests, "requests")
    return LimitResult(False, wait_tokens, "tokens")
