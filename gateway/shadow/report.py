"""Shadow layer: the comparison report (``GET /v1/gateway/shadow``, ``/ui``, ``gateway compare``).

Per route → primary model → shadow model: calls, answered, errors by kind, latency and TTFT
percentiles (ms), tokens, cost, agreement rates, and the projected monthly cost of serving the
route's observed traffic with that model (requests per day × mean cost per call × 30), next to
the same figures for the primary over the same requests. The observed rate is the route's
requests since the shadow layer first saw it, over at least ``MIN_WINDOW_S`` (so that a few
requests in the first minute do not project as a flood).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from gateway.routing.policy import Policy, Route
from gateway.shadow.stats_store import PairKey, PairStats, Snapshot

if TYPE_CHECKING:
    from gateway.shadow.metrics import ShadowMetrics

MIN_WINDOW_S = 3600.0
DAYS_PER_MONTH = 30
DROP_REASONS = ("in_flight", "budget", "opt_out", "tenant", "ineligible")


def percentile(values: Iterable[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..1); None without values."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000.0, 3)


def latency_summary(values: Iterable[float]) -> dict[str, Any] | None:
    """``{p50, p95, mean, n}`` in milliseconds, or None without samples."""
    data = list(values)
    if not data:
        return None
    return {
        "p50": _ms(percentile(data, 0.5)),
        "p95": _ms(percentile(data, 0.95)),
        "mean": _ms(sum(data) / len(data)),
        "n": len(data),
    }


def _rate(stats: PairStats, name: str) -> dict[str, Any] | None:
    n = stats.count(f"{name}_n")
    if not n:
        return None
    return {"rate": round(stats.count(f"{name}_yes") / n, 6), "n": int(n)}


def _mean(stats: PairStats, name: str) -> dict[str, Any] | None:
    n = stats.count(f"{name}_n")
    if not n:
        return None
    return {"mean": round(stats.count(f"{name}_sum") / n, 6), "n": int(n)}


def pair_report(stats: PairStats, requests_per_day: float | None) -> dict[str, Any]:
    """One (primary, shadow) comparison."""
    calls, answered = int(stats.count("calls")), int(stats.count("ok"))
    cost = stats.count("cost_usd")
    mean_cost = cost / answered if answered else None
    primary_cost = stats.count("primary_cost_usd")
    primary_mean = primary_cost / calls if calls else None
    return {
        "calls": calls,
        "answered": answered,
        "errors": stats.errors(),
        "error_rate": round((calls - answered) / calls, 6) if calls else None,
        "latency_ms": latency_summary(stats.samples["latency"]),
        "ttft_ms": latency_summary(stats.samples["ttft"]),
        "tokens": {
            "input": int(stats.count("input_tokens")),
            "output": int(stats.count("output_tokens")),
        },
        "cost_usd": {"total": round(cost, 10), "mean": _round(mean_cost)},
        "projected_monthly_usd": _project(requests_per_day, mean_cost),
        "agreement": {
            "exact": _rate(stats, "exact"),
            "tool_calls": _rate(stats, "tool_calls"),
            "json_valid": _rate(stats, "json_valid"),
            "primary_json_valid": _rate(stats, "primary_json_valid"),
            "length_ratio": _mean(stats, "length_ratio"),
            "cosine": _mean(stats, "cosine"),
        },
        "primary": {
            "latency_ms": latency_summary(stats.samples["primary_latency"]),
            "ttft_ms": latency_summary(stats.samples["primary_ttft"]),
            "cost_usd": {"total": round(primary_cost, 10), "mean": _round(primary_mean)},
            "projected_monthly_usd": _project(requests_per_day, primary_mean),
        },
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 10)


def _project(requests_per_day: float | None, mean_cost: float | None) -> float | None:
    if requests_per_day is None or mean_cost is None:
        return None
    return round(requests_per_day * mean_cost * DAYS_PER_MONTH, 6)


def _shadow_block(route: Route | None) -> dict[str, Any] | None:
    spec = route.shadow if route is not None else None
    if spec is None:
        return None
    return {
        "models": [m.name for m in spec.models],
        "share": spec.share,
        "max_in_flight": spec.max_in_flight,
        "budget_usd_per_day": spec.budget_usd_per_day,
        "embedding_model": spec.embedding_model.name if spec.embedding_model else None,
    }


def _drops(snapshot: Snapshot, route: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for (name, shadow, reason), count in sorted(snapshot.dropped.items()):
        if name != route:
            continue
        entry = out.setdefault(shadow, {r: 0 for r in DROP_REASONS} | {"ineligible_by": {}})
        head, _, cause = reason.partition(":")
        entry[head] = entry.get(head, 0) + count
        if cause:
            entry["ineligible_by"][cause] = entry["ineligible_by"].get(cause, 0) + count
    return out


def build_report(
    snapshot: Snapshot,
    policy: Policy,
    *,
    now: float,
    in_flight: Mapping[str, int],
    store: str,
) -> dict[str, Any]:
    """The whole report: every route with a shadow block, and any route with data."""
    names = [name for name, route in policy.routes.items() if route.shadow is not None]
    names += sorted({key.route for key in snapshot.pairs} - set(names))
    routes: dict[str, Any] = {}
    for name in names:
        traffic = snapshot.routes.get(name)
        window = max(now - traffic.first_seen, 0.0) if traffic else 0.0
        rpd = traffic.requests / max(window, MIN_WINDOW_S) * 86400 if traffic else None
        primaries: dict[str, dict[str, Any]] = {}
        pairs = sorted((k, v) for k, v in snapshot.pairs.items() if k.route == name)
        for key, stats in pairs:
            shadows = primaries.setdefault(key.primary, {"shadows": {}})["shadows"]
            shadows[key.shadow] = pair_report(stats, rpd)
        routes[name] = {
            "shadow": _shadow_block(policy.routes.get(name)),
            "requests": traffic.requests if traffic else 0,
            "window_s": round(window, 3),
            "requests_per_day": None if rpd is None else round(rpd, 3),
            "in_flight": in_flight.get(name, 0),
            "spent_today_usd": round(snapshot.spent_today.get(name, 0.0), 10),
            "dropped": _drops(snapshot, name),
            "primaries": primaries,
        }
    return {
        "object": "gateway.shadow_report",
        "generated_at": now,
        "store": store,
        "degraded": snapshot.degraded,
        "min_window_s": MIN_WINDOW_S,
        "routes": routes,
    }


def iter_pairs(report: Mapping[str, Any]) -> Iterable[tuple[PairKey, Mapping[str, Any]]]:
    """Every (route, primary, shadow) entry of a report, in order."""
    for route, body in report["routes"].items():
        for primary, entry in body["primaries"].items():
            for shadow, pair in entry["shadows"].items():
                yield PairKey(route, primary, shadow), pair


def set_projection_gauges(report: Mapping[str, Any], metrics: ShadowMetrics) -> None:
    for key, pair in iter_pairs(report):
        shadow_usd = pair["projected_monthly_usd"]
        primary_usd = pair["primary"]["projected_monthly_usd"]
        if shadow_usd is not None:
            metrics.projected.labels(key.route, key.shadow, "shadow").set(shadow_usd)
        if primary_usd is not None:
            metrics.projected.labels(key.route, key.primary, "primary").set(primary_usd)
