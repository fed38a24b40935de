"""Tests: the in-memory token buckets and budgets, table-driven on a fake clock."""

from __future__ import annotations

import datetime as dt

import pytest

from gateway.limits.backend import LimitResult, seconds_to_utc_midnight, utc_day
from gateway.limits.memory import MemoryLimits
from gateway.routing.policy import RateLimit


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


NOON = dt.datetime(2024, 5, 17, 12, 0, tzinfo=dt.UTC).timestamp()

# (rpm, tpm, steps): each step is (advance_s, tokens, allowed, which, retry_after_s)
CASES = {
    "burst up to the request limit, then refused": (
        3, None,
        [(0, 1, True, None, 0), (0, 1, True, None, 0), (0, 1, True, None, 0),
         (0, 1, False, "requests", 20.0)],
    ),
    "refill at limit/60 per second": (
        60, None,
        [*[(0, 0, True, None, 0)] * 60, (0, 0, False, "requests", 1.0),
         (0.5, 0, False, "requests", 0.5), (0.5, 0, True, None, 0), (0, 0, False, "requests", 1.0)],
    ),
    "full again after a rolling minute": (
        2, None,
        [(0, 0, True, None, 0), (0, 0, True, None, 0), (0, 0, False, "requests", 30.0),
         (60, 0, True, None, 0), (0, 0, True, None, 0), (0, 0, False, "requests", 30.0)],
    ),
    "tokens bucket": (
        None, 600,
        [(0, 400, True, None, 0), (0, 300, False, "tokens", 10.0), (0, 200, True, None, 0),
         (0, 1, False, "tokens", 0.1), (10, 100, True, None, 0)],
    ),
    "refusal consumes nothing": (
        10, 100,
        [(0, 90, True, None, 0), (0, 50, False, "tokens", 24.0), (0, 10, True, None, 0),
         (0, 0, True, None, 0)],
    ),
    "the longer wait names the limit": (
        1, 1000,
        [(0, 10, True, None, 0), (0, 10, False, "requests", 60.0)],
    ),
    "a request over the whole token limit fits a full bucket, leaving debt": (
        None, 60,
        [(0, 120, True, None, 0), (0, 1, False, "tokens", 61.0), (61, 1, True, None, 0)],
    ),
    "no limits at all": (None, None, [(0, 10**9, True, None, 0)] * 3),
}  # fmt: skip


@pytest.mark.parametrize("rpm,tpm,steps", CASES.values(), ids=CASES.keys())
async def test_token_buckets(
    rpm: int | None, tpm: int | None, steps: list[tuple[float, int, bool, str | None, float]]
) -> None:
    clock = FakeClock()
    limits = MemoryLimits(clock=clock, wall=lambda: NOON)
    limit = RateLimit(rpm, tpm)
    for i, (advance, tokens, allowed, which, retry) in enumerate(steps):
        clock.now += advance
        got = await limits.acquire("t", limit, tokens)
        assert got.allowed is allowed, f"step {i}: {got}"
        assert got.which == which, f"step {i}: {got}"
        assert got.retry_after_s == pytest.approx(retry, abs=1e-6), f"step {i}: {got}"


async def test_tenants_have_their_own_buckets() -> None:
    limits = MemoryLimits(clock=FakeClock())
    limit = RateLimit(1, None)
    assert (await limits.acquire("a", limit, 0)).allowed
    assert not (await limits.acquire("a", limit, 0)).allowed
    assert (await limits.acquire("b", limit, 0)).allowed


@pytest.mark.parametrize(
    "estimated,actual,then_tokens,allowed",
    [
        (500, 100, 900, True),  # 400 given back: 500 + 400 left
        (500, 100, 901, False),
        (100, 600, 400, True),  # 500 more than estimated: 900 - 500 left
        (100, 600, 401, False),
        (1000, 1500, 1, False),  # in debt
        (100, 100, 900, True),  # exact estimate: nothing changes
        (1000, 0, 1000, True),  # never above capacity
    ],
)
async def test_settle_tokens(estimated: int, actual: int, then_tokens: int, allowed: bool) -> None:
    limits = MemoryLimits(clock=FakeClock())
    limit = RateLimit(None, 1000)
    assert (await limits.acquire("t", limit, estimated)).allowed
    await limits.settle_tokens("t", limit, estimated, actual)
    assert (await limits.acquire("t", limit, then_tokens)).allowed is allowed


async def test_budget_per_utc_day() -> None:
    wall = FakeClock(NOON)
    limits = MemoryLimits(wall=wall)
    allowed, hold = await limits.reserve_spend("t", 1.0, 0.6)
    assert allowed.allowed and hold is not None and hold.local
    assert (await limits.reserve_spend("t", 1.0, 0.4))[0].allowed  # 0.6 < 1: still admitted
    refused, none = await limits.reserve_spend("t", 1.0, 0.01)  # held: 1.0
    assert refused == LimitResult(False, 12 * 3600.0, None) and none is None
    await limits.settle_spend(hold, 0.1)  # really cost 0.1: 0.5 back
    assert limits.spent_today("t") == pytest.approx(0.5)
    assert (await limits.reserve_spend("t", 1.0, 0.1))[0].allowed
    assert (await limits.reserve_spend("other", 1.0, 0.1))[0].allowed
    wall.now += 12 * 3600  # midnight UTC: a new day
    assert (await limits.reserve_spend("t", 1.0, 0.1))[0].allowed


@pytest.mark.parametrize(
    ("reservations", "admitted"),
    [
        ([0.3, 0.3, 0.3, 0.3, 0.3], 4),  # the fourth starts below the budget, the fifth not
        ([2.0, 0.1], 1),  # one request above the whole budget: admitted alone
        ([0.0] * 5, 5),  # nothing held: nothing refused
    ],
)
async def test_reservations_bound_the_overshoot(reservations: list[float], admitted: int) -> None:
    limits = MemoryLimits(wall=FakeClock(NOON))
    results = [(await limits.reserve_spend("t", 1.0, usd))[0] for usd in reservations]
    assert sum(r.allowed for r in results) == admitted
    assert limits.spent_today("t") <= 1.0 + max(reservations)


@pytest.mark.parametrize(
    "moment,expected",
    [
        (dt.datetime(2024, 5, 17, 0, 0, tzinfo=dt.UTC), 86400.0),
        (dt.datetime(2024, 5, 17, 23, 59, 30, tzinfo=dt.UTC), 30.0),
        (dt.datetime(2024, 12, 31, 18, 0, tzinfo=dt.UTC), 6 * 3600.0),
    ],
)
def test_seconds_to_midnight(moment: dt.datetime, expected: float) -> None:
    assert seconds_to_utc_midnight(moment.timestamp()) == pytest.approx(expected)
    assert utc_day(moment.timestamp()) == moment.strftime("%Y-%m-%d")
