"""Limits: rate limits and budgets in this process (one replica, or the fallback without Redis)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from gateway.limits.backend import (
    ALLOWED,
    LimitResult,
    SpendHold,
    refilled,
    refusal,
    seconds_to_utc_midnight,
    utc_day,
    wait_s,
)
from gateway.routing.policy import RateLimit


@dataclass(slots=True)
class _Bucket:
    level: float
    at: float


class MemoryLimits:
    """``LimitsBackend`` in memory. ``clock`` (monotonic) drives buckets, ``wall`` the UTC day."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._clock = clock
        self._wall = wall
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._spend: dict[str, float] = {}
        self._spend_day = ""

    def _level(self, tenant: str, kind: str, capacity: float, now: float) -> float:
        bucket = self._buckets.get((tenant, kind))
        if bucket is None:
            return capacity
        return refilled(bucket.level, now - bucket.at, capacity)

    def _store(self, tenant: str, kind: str, level: float, now: float) -> None:
        self._buckets[(tenant, kind)] = _Bucket(level, now)

    async def acquire(self, tenant: str, limit: RateLimit, tokens: int) -> LimitResult:
        now = self._clock()
        rpm, tpm = limit.requests_per_minute, limit.tokens_per_minute
        req_level = self._level(tenant, "req", rpm, now) if rpm else 0.0
        tok_level = self._level(tenant, "tok", tpm, now) if tpm else 0.0
        result = refusal(
            wait_s(req_level, 1, rpm) if rpm else 0.0,
            wait_s(tok_level, tokens, tpm) if tpm else 0.0,
        )
        if not result.allowed:
            return result
        if rpm:
            self._store(tenant, "req", req_level - 1, now)
        if tpm:
            self._store(tenant, "tok", tok_level - max(0, tokens), now)
        return ALLOWED

    async def settle_tokens(
        self, tenant: str, limit: RateLimit, estimated: int, actual: int
    ) -> None:
        tpm = limit.tokens_per_minute
        if not tpm or actual == estimated:
            return
        now = self._clock()
        level = self._level(tenant, "tok", tpm, now) - (actual - estimated)
        self._store(tenant, "tok", min(float(tpm), level), now)

    def _today(self) -> dict[str, float]:
        day = utc_day(self._wall())
        if day != self._spend_day:
            self._spend_day, self._spend = day, {}
        return self._spend

    async def spend_allowed(self, tenant: str, usd_per_day: float) -> LimitResult:
        if self._today().get(tenant, 0.0) < usd_per_day:
            return ALLOWED
        return LimitResult(False, seconds_to_utc_midnight(self._wall()))

    async def reserve_spend(
        self, tenant: str, usd_per_day: float, usd: float
    ) -> tuple[LimitResult, SpendHold | None]:
        spend = self._today()
        current = spend.get(tenant, 0.0)
        if current >= usd_per_day:
            return LimitResult(False, seconds_to_utc_midnight(self._wall())), None
        spend[tenant] = current + max(0.0, usd)
        return ALLOWED, SpendHold(tenant, self._spend_day, max(0.0, usd), local=True)

    async def settle_spend(self, hold: SpendHold, actual_usd: float) -> None:
        spend = self._today()
        if hold.day != self._spend_day:  # the day turned: that counter is gone
            return
        spend[hold.tenant] = spend.get(hold.tenant, 0.0) + max(0.0, actual_usd) - hold.usd

    def note_spend(self, tenant: str, day: str, spent: float) -> None:
        """The shared (Redis) counter was seen at ``spent``: as the fallback, never count less,
        so a Redis outage does not restart the day's budget from zero."""
        spend = self._today()
        if day == self._spend_day and spent > spend.get(tenant, 0.0):
            spend[tenant] = spent

    def spent_today(self, tenant: str) -> float:
        return self._today().get(tenant, 0.0)
