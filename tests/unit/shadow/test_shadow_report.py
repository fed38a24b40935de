"""Shadow report (from the memory store): percentiles, rates, drops, projections."""

from __future__ import annotations

import pytest

from gateway.shadow.agreement import Agreement
from gateway.shadow.report import MIN_WINDOW_S, build_report, percentile
from gateway.shadow.stats_store import MemoryShadowStore, Observation, PairKey
from tests.unit.shadow.shadow_testkit import policy

KEY = PairKey("r", "haiku", "nova")


def obs(latency: float, *, error: str | None = None, exact: bool = True) -> Observation:
    return Observation(
        KEY,
        error,
        latency,
        latency / 2 if error is None else None,
        10,
        5,
        0.0 if error else 0.002,
        0.5,
        None,
        0.004,
        None if error else Agreement(exact, None, None, None, 1.5),
    )


def test_percentile_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.95) == 95.0
    assert percentile([3.0], 0.95) == 3.0
    assert percentile([], 0.5) is None


def test_report_figures() -> None:
    store = MemoryShadowStore()
    for _ in range(10):
        store.count_request("r", 1000.0)
    for latency in (0.1, 0.2, 0.3):
        store.add(obs(latency, exact=latency < 0.25))
    store.add(obs(0.05, error="throttled"))
    store.count_drop("r", "llama", "ineligible:safety_tier")
    store.count_drop("r", "llama", "in_flight")
    now = 1000.0 + 2 * MIN_WINDOW_S  # two hours of traffic
    body = build_report(
        store.snapshot_now(""), policy(), now=now, in_flight={"r": 1}, store="memory"
    )
    route = body["routes"]["r"]
    assert route["requests"] == 10 and route["in_flight"] == 1
    assert route["requests_per_day"] == pytest.approx(10 / (2 * MIN_WINDOW_S) * 86400)
    assert route["shadow"]["models"] == ["haiku", "nova", "llama", "mistral"]
    assert route["dropped"]["llama"]["in_flight"] == 1
    assert route["dropped"]["llama"]["ineligible"] == 1
    assert route["dropped"]["llama"]["ineligible_by"] == {"safety_tier": 1}
    pair = route["primaries"]["haiku"]["shadows"]["nova"]
    assert (pair["calls"], pair["answered"], pair["errors"]) == (4, 3, {"throttled": 1})
    assert pair["error_rate"] == 0.25
    assert pair["latency_ms"]["p50"] == 200.0 and pair["latency_ms"]["p95"] == 300.0
    assert pair["ttft_ms"]["p50"] == 100.0
    assert pair["tokens"] == {"input": 30, "output": 15}
    assert pair["cost_usd"] == {"total": pytest.approx(0.006), "mean": pytest.approx(0.002)}
    assert pair["agreement"]["exact"] == {"rate": pytest.approx(2 / 3, abs=1e-6), "n": 3}
    assert pair["agreement"]["length_ratio"] == {"mean": 1.5, "n": 3}
    assert pair["agreement"]["tool_calls"] is None
    rpd = route["requests_per_day"]
    assert pair["projected_monthly_usd"] == pytest.approx(rpd * 0.002 * 30, rel=1e-5)
    assert pair["primary"]["projected_monthly_usd"] == pytest.approx(rpd * 0.004 * 30, rel=1e-5)
    assert pair["primary"]["latency_ms"]["n"] == 4
    assert body["routes"]["budget"]["requests"] == 0  # shadowed routes listed without data


def test_a_short_window_projects_over_the_minimum() -> None:
    store = MemoryShadowStore()
    store.count_request("r", 0.0)
    body = build_report(store.snapshot_now(""), policy(), now=5.0, in_flight={}, store="memory")
    assert body["routes"]["r"]["requests_per_day"] == pytest.approx(86400 / MIN_WINDOW_S)


async def test_spend_is_per_day() -> None:
    store = MemoryShadowStore()
    assert await store.add_spend("r", "2026-01-01", 1.0) == 1.0
    assert await store.add_spend("r", "2026-01-01", 0.5) == 1.5
    assert await store.add_spend("r", "2026-01-02", 0.25) == 0.25
    assert store.snapshot_now("2026-01-02").spent_today == {"r": 0.25}
