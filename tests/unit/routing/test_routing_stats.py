"""Stats: decaying latency averages and the circuit breaker, on a fake clock."""

from __future__ import annotations

import random

import pytest

from gateway.routing import LocalStats, PeekStats, Policy, RouteRequest, choose
from tests.unit.routing.routing_testkit import FakeClock


def _stats(clock: FakeClock, **kwargs: float) -> LocalStats:
    return LocalStats(clock, **kwargs)  # type: ignore[arg-type]


def _trip(stats: LocalStats, model: str = "m", times: int = 5) -> None:
    for _ in range(times):
        stats.record_failure(model, retryable=True)


def test_circuit_opens_after_consecutive_retryable_failures() -> None:
    clock = FakeClock()
    stats = _stats(clock)
    _trip(stats, times=4)
    assert stats.is_available("m") and stats.state("m") == "closed"
    stats.record_failure("m", retryable=True)
    assert stats.state("m") == "open"
    assert not stats.is_available("m")
    assert stats.is_available("other")


def test_cooldown_then_exactly_one_probe_then_close() -> None:
    clock = FakeClock()
    stats = _stats(clock)
    _trip(stats)
    clock.advance(29.9)
    assert not stats.is_available("m")
    clock.advance(0.1)
    assert stats.state("m") == "half_open"  # state() reads, never takes the probe
    assert stats.is_available("m")  # the probe
    assert [stats.is_available("m") for _ in range(5)] == [False] * 5
    stats.record_success("m", latency_ms=100.0)
    assert stats.state("m") == "closed"
    assert all(stats.is_available("m") for _ in range(5))


def test_failed_probe_reopens_for_another_cooldown() -> None:
    clock = FakeClock()
    stats = _stats(clock)
    _trip(stats)
    clock.advance(30)
    assert stats.is_available("m")
    stats.record_failure("m", retryable=True)  # one failure is enough while half-open
    assert stats.state("m") == "open"
    clock.advance(29)
    assert not stats.is_available("m")
    clock.advance(1)
    assert stats.is_available("m")
    assert not stats.is_available("m")


def test_a_probe_never_reported_expires() -> None:
    clock = FakeClock()
    stats = _stats(clock, probe_timeout_s=10.0)
    _trip(stats)
    clock.advance(30)
    assert stats.is_available("m")
    clock.advance(9)
    assert not stats.is_available("m")
    clock.advance(1)
    assert stats.is_available("m")


def test_now_argument_overrides_the_clock() -> None:
    stats = _stats(FakeClock(0.0))
    _trip(stats)
    assert not stats.is_available("m", now=10.0)
    assert stats.is_available("m", now=31.0)


@pytest.mark.parametrize(
    ("events", "state"),
    [
        (["fail"] * 4 + ["ok"] + ["fail"] * 4, "closed"),  # success resets the count
        (["bad"] * 20, "closed"),  # non-retryable failures say nothing about health
        (["fail"] * 2 + ["bad"] + ["fail"] * 3, "open"),  # ... and do not reset the count
    ],
)
def test_consecutive_count(events: list[str], state: str) -> None:
    stats = _stats(FakeClock())
    for event in events:
        if event == "ok":
            stats.record_success("m", latency_ms=1.0)
        else:
            stats.record_failure("m", retryable=event == "fail")
    assert stats.state("m") == state


def test_peek_stats_never_takes_the_probe() -> None:
    clock = FakeClock()
    stats = _stats(clock)
    _trip(stats)
    peek = PeekStats(stats)
    assert not peek.is_available("m")
    clock.advance(30)
    assert peek.is_available("m") and peek.is_available("m")
    assert stats.is_available("m")  # the real probe is still there


def test_moving_average_with_time_decay() -> None:
    clock = FakeClock()
    stats = _stats(clock, alpha=0.2, half_life_s=100.0)
    assert stats.latency_ms("m", stream=False) is None
    stats.record_success("m", latency_ms=1000.0)
    assert stats.latency_ms("m", stream=False) == 1000.0
    stats.record_success("m", latency_ms=2000.0)
    assert stats.latency_ms("m", stream=False) == pytest.approx(1200.0)
    clock.advance(100.0)  # one half-life: the old estimate keeps 0.8 * 0.5 of its weight
    stats.record_success("m", latency_ms=200.0)
    assert stats.latency_ms("m", stream=False) == pytest.approx(0.4 * 1200 + 0.6 * 200)


def test_stale_estimates_are_forgotten() -> None:
    clock = FakeClock()
    stats = _stats(clock, stale_after_s=60.0)
    stats.record_success("m", latency_ms=500.0)
    clock.advance(60.0)
    assert stats.latency_ms("m", stream=False) == 500.0
    clock.advance(0.1)
    assert stats.latency_ms("m", stream=False) is None


def test_streams_read_time_to_first_token() -> None:
    stats = _stats(FakeClock())
    stats.record_success("m", latency_ms=900.0)
    assert stats.latency_ms("m", stream=True) == 900.0  # no TTFT yet: total time
    stats.record_success("m", latency_ms=900.0, ttft_ms=100.0)
    assert stats.latency_ms("m", stream=True) == 100.0
    assert stats.latency_ms("m", stream=False) == 900.0


def test_snapshot_and_merge() -> None:
    clock = FakeClock()
    here, there = _stats(clock), _stats(clock, half_life_s=1e12)
    there.record_success("a", latency_ms=300.0, ttft_ms=50.0)
    _trip(there, "b")
    snap = there.snapshot()
    assert snap["a"]["total_ms"] == 300.0 and snap["a"]["total_age_s"] == 0.0
    assert snap["b"]["state"] == "open" and snap["b"]["consecutive_failures"] == 5
    clock.advance(1.0)
    here.record_success("a", latency_ms=100.0)
    here.merge(snap)  # ours is fresher: kept
    assert here.latency_ms("a", stream=False) == 100.0
    assert here.latency_ms("a", stream=True) == 50.0  # we had no TTFT: taken
    assert not here.is_available("b")
    clock.advance(29.0)
    assert not here.is_available("b")  # opened when the snapshot was taken, 29 s ago
    clock.advance(1.0)
    assert here.is_available("b")
    there.record_success("a", latency_ms=500.0)
    here.merge(there.snapshot())  # theirs is fresher now: averaged
    assert here.latency_ms("a", stream=False) == pytest.approx((100.0 + 0.8 * 300 + 0.2 * 500) / 2)


def test_latency_route_leaves_a_slow_model_and_comes_back(default_policy: Policy) -> None:
    clock = FakeClock()
    stats = _stats(clock)
    rng = random.Random(0)
    request = RouteRequest(model="fast", prompt_tokens=100)

    def first() -> str:
        decision = choose(request, default_policy, stats, rng=rng)
        return decision.model.name if not decision.explored else first()

    assert first() == "nova-micro"  # lowest prior (400 ms)
    for _ in range(10):
        stats.record_success("nova-micro", latency_ms=5000.0)
    assert first() == "nova-lite"
    for _ in range(30):
        clock.advance(1.0)
        stats.record_success("nova-micro", latency_ms=100.0)
    assert first() == "nova-micro"


def test_open_circuit_moves_the_route_and_the_probe_brings_it_back(default_policy: Policy) -> None:
    clock = FakeClock()
    stats = _stats(clock)
    request = RouteRequest(model="cheap", prompt_tokens=100)
    _trip(stats, "nova-micro")
    decision = choose(request, default_policy, stats, rng=random.Random(0))
    assert decision.model.name != "nova-micro"
    assert ("nova-micro", "circuit open (recent failures)") in decision.excluded
    clock.advance(30)
    assert choose(request, default_policy, stats, rng=random.Random(0)).model.name == "nova-micro"
    assert choose(request, default_policy, stats, rng=random.Random(0)).model.name != "nova-micro"
    stats.record_success("nova-micro", latency_ms=100.0)
    assert choose(request, default_policy, stats, rng=random.Random(0)).model.name == "nova-micro"
