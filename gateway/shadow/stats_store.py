"""Shadow layer: the comparison aggregates — their shape, the store interface, and the
in-memory store (one process). ``redis_store.RedisShadowStore`` shares them across replicas.

Per (route, primary model, shadow model) a ``PairStats``: counters (a flat ``field -> number``
map, the same fields in memory and in a Redis hash) and the last ``SAMPLES`` latencies and
times to first token of both models (for percentiles). Per route: the requests the shadow layer
saw (its observed traffic) since ``first_seen``. Per (route, shadow model, reason): dropped
work. Per (route, UTC day): shadow spend, for the daily budget. Answers are never stored here.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from gateway.shadow.agreement import Agreement

SAMPLES = 1024
SAMPLE_SERIES = ("latency", "ttft", "primary_latency", "primary_ttft")


@dataclass(frozen=True, slots=True, order=True)
class PairKey:
    route: str
    primary: str
    shadow: str

    def encode(self) -> str:
        """``route|primary|shadow`` (policy names never contain ``|``)."""
        return f"{self.route}|{self.primary}|{self.shadow}"

    @classmethod
    def decode(cls, raw: str) -> PairKey:
        route, primary, shadow = raw.split("|", 2)
        return cls(route, primary, shadow)


@dataclass(frozen=True, slots=True)
class Observation:
    """One shadow call next to the primary answer it shadows. ``error`` is a fixed reason
    label (``throttled``, ``timeout``, ...) or None when the shadow answered."""

    key: PairKey
    error: str | None
    latency_s: float
    ttft_s: float | None
    input_tokens: int
    output_tokens: int
    cost_usd: float
    primary_latency_s: float
    primary_ttft_s: float | None
    primary_cost_usd: float
    agreement: Agreement | None = None


def _tally(out: dict[str, float], name: str, value: bool | None) -> None:
    if value is not None:
        out[f"{name}_n"] = 1.0
        out[f"{name}_yes"] = 1.0 if value else 0.0


def _mean(out: dict[str, float], name: str, value: float | None) -> None:
    if value is not None:
        out[f"{name}_n"] = 1.0
        out[f"{name}_sum"] = value


def increments(obs: Observation) -> dict[str, float]:
    """The counter increments one observation makes."""
    out: dict[str, float] = {"calls": 1.0, "primary_cost_usd": obs.primary_cost_usd}
    if obs.error is not None:
        out[f"error:{obs.error}"] = 1.0
        return out
    out.update(
        ok=1.0,
        input_tokens=float(obs.input_tokens),
        output_tokens=float(obs.output_tokens),
        cost_usd=obs.cost_usd,
    )
    agreement = obs.agreement
    if agreement is not None:
        _tally(out, "exact", agreement.exact)
        _tally(out, "tool_calls", agreement.tool_calls)
        _tally(out, "json_valid", agreement.json_valid)
        _tally(out, "primary_json_valid", agreement.primary_json_valid)
        _mean(out, "length_ratio", agreement.length_ratio)
        _mean(out, "cosine", agreement.cosine)
    return out


def samples_of(obs: Observation) -> dict[str, float]:
    """The samples one observation adds (seconds); a failed call adds no shadow latency."""
    out: dict[str, float] = {"primary_latency": obs.primary_latency_s}
    if obs.primary_ttft_s is not None:
        out["primary_ttft"] = obs.primary_ttft_s
    if obs.error is None:
        out["latency"] = obs.latency_s
        if obs.ttft_s is not None:
            out["ttft"] = obs.ttft_s
    return out


def _series() -> dict[str, deque[float]]:
    return {name: deque(maxlen=SAMPLES) for name in SAMPLE_SERIES}


@dataclass
class PairStats:
    counters: dict[str, float] = field(default_factory=dict)
    samples: dict[str, deque[float]] = field(default_factory=_series)

    def add(self, obs: Observation) -> None:
        for name, value in increments(obs).items():
            self.counters[name] = self.counters.get(name, 0.0) + value
        for name, value in samples_of(obs).items():
            self.samples[name].append(value)

    def count(self, name: str) -> float:
        return self.counters.get(name, 0.0)

    def errors(self) -> dict[str, int]:
        return {
            name.removeprefix("error:"): int(value)
            for name, value in sorted(self.counters.items())
            if name.startswith("error:")
        }


@dataclass(frozen=True, slots=True)
class RouteTraffic:
    requests: int
    first_seen: float


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything a report needs, read at once."""

    pairs: Mapping[PairKey, PairStats]
    routes: Mapping[str, RouteTraffic]
    dropped: Mapping[tuple[str, str, str], int]
    spent_today: Mapping[str, float]
    shared: bool
    degraded: bool = False


class ShadowStore(Protocol):
    """Where comparisons accumulate. ``count_*`` are synchronous and cheap (the hot path calls
    them); a shared store buffers them and ``flush`` sends them."""

    kind: str

    def count_request(self, route: str, now: float) -> None: ...

    def count_drop(self, route: str, shadow: str, reason: str) -> None: ...

    async def record(self, obs: Observation) -> None: ...

    async def add_spend(self, route: str, day: str, usd: float) -> float:
        """Add to the route's shadow spend on ``day``; returns the day's total."""
        ...

    async def flush(self) -> None: ...

    async def snapshot(self, day: str) -> Snapshot: ...


class MemoryShadowStore:
    """The process's own aggregates (no Redis configured). Not thread-safe: one event loop."""

    kind = "memory"

    def __init__(self) -> None:
        self._pairs: dict[PairKey, PairStats] = {}
        self._routes: dict[str, RouteTraffic] = {}
        self._dropped: dict[tuple[str, str, str], int] = {}
        self._spend: dict[tuple[str, str], float] = {}

    def count_request(self, route: str, now: float) -> None:
        seen = self._routes.get(route)
        if seen is None:
            self._routes[route] = RouteTraffic(1, now)
        else:
            self._routes[route] = RouteTraffic(seen.requests + 1, seen.first_seen)

    def count_drop(self, route: str, shadow: str, reason: str) -> None:
        key = (route, shadow, reason)
        self._dropped[key] = self._dropped.get(key, 0) + 1

    async def record(self, obs: Observation) -> None:
        self.add(obs)

    def add(self, obs: Observation) -> None:
        """``record`` for callers without a loop (``gateway compare`` aggregates this way)."""
        stats = self._pairs.get(obs.key)
        if stats is None:
            stats = self._pairs[obs.key] = PairStats()
        stats.add(obs)

    async def add_spend(self, route: str, day: str, usd: float) -> float:
        for old in [key for key in self._spend if key[1] != day]:
            del self._spend[old]
        total = self._spend.get((route, day), 0.0) + usd
        self._spend[(route, day)] = total
        return total

    async def flush(self) -> None:
        return None

    async def snapshot(self, day: str) -> Snapshot:
        return self.snapshot_now(day)

    def snapshot_now(self, day: str) -> Snapshot:
        return Snapshot(
            pairs=dict(self._pairs),
            routes=dict(self._routes),
            dropped=dict(self._dropped),
            spent_today={route: usd for (route, d), usd in self._spend.items() if d == day},
            shared=False,
        )
