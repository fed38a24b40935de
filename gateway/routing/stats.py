"""Routing (pure): latency estimates and circuit breakers per model (``StatsView``, ``LocalStats``).

Latency is an exponentially weighted moving average per model, one for time to first token
(streams) and one for total time. Each new observation has weight ``alpha``, and more when
the previous estimate is old (the old estimate's weight halves every ``half_life_s``); an
estimate not refreshed for ``stale_after_s`` is forgotten, so the engine falls back to the
policy's prior and the model gets tried again.

Circuit breaker per model: ``failure_threshold`` consecutive *retryable* failures open it; it
stays open ``cooldown_s``; then the first ``is_available`` call gets the one probe (half-open)
while every other call sees the model unavailable until the probe's outcome is recorded (or
``probe_timeout_s`` passes, for a probe that was never sent). Success closes the circuit; a
failure re-opens it for another cool-down. Non-retryable failures (validation errors) say
nothing about the model's health and are only counted.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from gateway.routing.bench import ModelBench

CircuitState = Literal["closed", "open", "half_open"]


class StatsView(Protocol):
    """What the engine reads: a latency estimate and whether a model may be tried now."""

    def latency_ms(self, model: str, stream: bool) -> float | None: ...

    def is_available(self, model: str, now: float | None = None) -> bool: ...

    def bench_reason(self, model: str, need: int, now: float | None = None) -> str: ...


@dataclass(slots=True)
class _ModelStats:
    ttft_ms: float | None = None
    ttft_at: float = 0.0
    total_ms: float | None = None
    total_at: float = 0.0
    successes: int = 0
    failures: int = 0
    consecutive_failures: int = 0
    state: CircuitState = "closed"
    opened_at: float = 0.0
    probe_at: float | None = None


class LocalStats:
    """In-process ``StatsView`` (one per worker); ``snapshot``/``merge`` let a shared layer sync."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        *,
        alpha: float = 0.2,
        half_life_s: float = 300.0,
        stale_after_s: float = 900.0,
        failure_threshold: int = 5,
        cooldown_s: float = 30.0,
        probe_timeout_s: float | None = None,
    ) -> None:
        self._clock = clock
        self._alpha = alpha
        self._half_life_s = half_life_s
        self._stale_after_s = stale_after_s
        self._threshold = failure_threshold
        self._cooldown_s = cooldown_s
        self._probe_timeout_s = probe_timeout_s if probe_timeout_s is not None else cooldown_s
        self._models: dict[str, _ModelStats] = {}
        #: Model-level refusals (minutes), kept apart from the circuits (seconds).
        self.bench = ModelBench(clock)

    def _get(self, model: str) -> _ModelStats:
        entry = self._models.get(model)
        if entry is None:
            entry = self._models[model] = _ModelStats()
        return entry

    def _blend(self, old: float | None, old_at: float, value: float, now: float) -> float:
        if old is None:
            return value
        keep = (1.0 - self._alpha) * float(0.5 ** (max(0.0, now - old_at) / self._half_life_s))
        return keep * old + (1.0 - keep) * value

    # -- reading -----------------------------------------------------------------------------

    def latency_ms(self, model: str, stream: bool) -> float | None:
        """TTFT for streams (total if no TTFT yet), total otherwise; None if unknown or stale."""
        entry = self._models.get(model)
        if entry is None:
            return None
        now = self._clock()
        if stream and entry.ttft_ms is not None and now - entry.ttft_at <= self._stale_after_s:
            return entry.ttft_ms
        if entry.total_ms is not None and now - entry.total_at <= self._stale_after_s:
            return entry.total_ms
        return None

    def state(self, model: str, now: float | None = None) -> CircuitState:
        """The circuit's state without changing it (for metrics and explain)."""
        entry = self._models.get(model)
        if entry is None:
            return "closed"
        if entry.state == "open" and self._now(now) - entry.opened_at >= self._cooldown_s:
            return "half_open"
        return entry.state

    def is_available(self, model: str, now: float | None = None) -> bool:
        """True when closed; after the cool-down, True once (the probe), then False until the
        probe's outcome is recorded."""
        entry = self._models.get(model)
        if entry is None or entry.state == "closed":
            return True
        t = self._now(now)
        if entry.state == "open":
            if t - entry.opened_at < self._cooldown_s:
                return False
            entry.state = "half_open"
            entry.probe_at = t
            return True
        if entry.probe_at is not None and t - entry.probe_at < self._probe_timeout_s:
            return False
        entry.probe_at = t
        return True

    def bench_reason(self, model: str, need: int, now: float | None = None) -> str:
        return self.bench.reason(model, need, now)

    def _now(self, now: float | None) -> float:
        return self._clock() if now is None else now

    # -- recording ---------------------------------------------------------------------------

    def record_success(
        self, model: str, *, latency_ms: float, ttft_ms: float | None = None
    ) -> None:
        """A call that answered: update the averages and close the circuit."""
        now = self._clock()
        entry = self._get(model)
        entry.total_ms = self._blend(entry.total_ms, entry.total_at, latency_ms, now)
        entry.total_at = now
        if ttft_ms is not None:
            entry.ttft_ms = self._blend(entry.ttft_ms, entry.ttft_at, ttft_ms, now)
            entry.ttft_at = now
        entry.successes += 1
        entry.consecutive_failures = 0
        entry.state = "closed"
        entry.probe_at = None

    def record_failure(self, model: str, *, retryable: bool) -> None:
        """A failed call. Retryable failures count towards opening the circuit; a failed probe
        re-opens it at once."""
        entry = self._get(model)
        entry.failures += 1
        if not retryable:
            return
        entry.consecutive_failures += 1
        if entry.state == "half_open" or (
            entry.state == "closed" and entry.consecutive_failures >= self._threshold
        ):
            entry.state = "open"
            entry.opened_at = self._clock()
            entry.probe_at = None

    # -- sharing -----------------------------------------------------------------------------

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """Per model: estimates with their age, counters and circuit state (ages, not clock
        readings, so that replicas with different monotonic clocks can share them)."""
        now = self._clock()
        out: dict[str, dict[str, Any]] = {}
        for model, entry in self._models.items():
            out[model] = {
                "ttft_ms": entry.ttft_ms,
                "ttft_age_s": now - entry.ttft_at if entry.ttft_ms is not None else None,
                "total_ms": entry.total_ms,
                "total_age_s": now - entry.total_at if entry.total_ms is not None else None,
                "successes": entry.successes,
                "failures": entry.failures,
                "consecutive_failures": entry.consecutive_failures,
                "state": self.state(model, now),
                "open_for_s": now - entry.opened_at if entry.state != "closed" else None,
            }
        return out

    def merge(self, remote: Mapping[str, Mapping[str, Any]]) -> None:
        """Fold another replica's ``snapshot()`` in: a fresher remote estimate is averaged with
        ours (or taken when we have none); a remote open circuit opens ours (keeping its age).
        Counters stay local."""
        now = self._clock()
        for model, data in remote.items():
            entry = self._get(model)
            for key in ("ttft", "total"):
                value, age = data.get(f"{key}_ms"), data.get(f"{key}_age_s")
                if value is None or age is None or age > self._stale_after_s:
                    continue
                mine: float | None = getattr(entry, f"{key}_ms")
                mine_at: float = getattr(entry, f"{key}_at")
                if mine is None or now - mine_at > self._stale_after_s:
                    setattr(entry, f"{key}_ms", float(value))
                    setattr(entry, f"{key}_at", now - float(age))
                elif now - float(age) > mine_at:
                    setattr(entry, f"{key}_ms", (mine + float(value)) / 2.0)
                    setattr(entry, f"{key}_at", now - float(age))
            open_for = data.get("open_for_s")
            if data.get("state") == "open" and open_for is not None and entry.state == "closed":
                entry.state = "open"
                entry.opened_at = now - float(open_for)


class PeekStats:
    """A read-only view of a ``LocalStats`` for the explain endpoint: it never takes a probe."""

    def __init__(self, stats: LocalStats) -> None:
        self._stats = stats

    def latency_ms(self, model: str, stream: bool) -> float | None:
        return self._stats.latency_ms(model, stream)

    def is_available(self, model: str, now: float | None = None) -> bool:
        return self._stats.state(model, now) != "open"

    def bench_reason(self, model: str, need: int, now: float | None = None) -> str:
        return self._stats.bench_reason(model, need, now)
