"""Routing (pure): models benched after a model-level refusal, apart from the latency circuit.

A circuit opens on transient failures (throttling, timeouts) and probes again after seconds.
A model-level refusal — no access to the model, end of life, no on-demand offer in the
region, a feature the model lacks, a model the region does not offer — will not heal in
seconds, so the model is benched for minutes: routing skips it (for every request, or only
for requests that need the refused feature) and says why, until the bench expires.
Discovery (the region's control-plane listings) benches with ``source="discovery"`` until
its next successful run replaces the whole set (``replace_source``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from gateway.routing.policy import feature_names

__all__ = ["DEFAULT_BENCH_S", "BenchEntry", "ModelBench"]

DEFAULT_BENCH_S = 300.0


@dataclass(frozen=True, slots=True)
class BenchEntry:
    """One bench: ``features`` 0 benches the whole model, else requests needing any of them."""

    model: str
    reason: str
    until: float
    features: int = 0
    source: str = "refusal"

    def describe(self) -> str:
        """``benched: <reason>``, or ``benched for tools+streaming: <reason>`` (explain, /ui)."""
        if self.features == 0:
            return f"benched: {self.reason}"
        return f"benched for {'+'.join(feature_names(self.features))}: {self.reason}"


class ModelBench:
    """Benched models by catalogue name (one per worker; cheap to read on the hot path)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._entries: dict[str, list[BenchEntry]] = {}

    def bench(
        self,
        model: str,
        reason: str,
        *,
        seconds: float = DEFAULT_BENCH_S,
        features: int = 0,
        source: str = "refusal",
    ) -> BenchEntry:
        """Bench ``model`` (or only its ``features``) for ``seconds``; replaces an entry for
        the same features from the same source."""
        entry = BenchEntry(model, reason, self._clock() + seconds, features, source)
        kept = [
            e for e in self._entries.get(model, ()) if e.features != features or e.source != source
        ]
        self._entries[model] = [*kept, entry]
        return entry

    def replace_source(self, source: str, reasons: Mapping[str, str]) -> None:
        """Drop every bench from ``source`` and bench each model of ``reasons`` (whole
        model, no expiry) in its place: the benches last until the source speaks again."""
        for model in list(self._entries):
            kept = [e for e in self._entries[model] if e.source != source]
            if kept:
                self._entries[model] = kept
            else:
                del self._entries[model]
        for model, reason in reasons.items():
            self.bench(model, reason, seconds=math.inf, source=source)

    def reason(self, model: str, need: int, now: float | None = None) -> str:
        """Why ``model`` is benched for a request needing features ``need``; "" if it is not."""
        entries = self._entries.get(model)
        if not entries:
            return ""
        t = self._clock() if now is None else now
        for entry in entries:
            if entry.until <= t:
                continue
            if entry.features & need == entry.features:  # always true for a whole-model bench
                return entry.describe()
        return ""

    def active(self, now: float | None = None) -> list[BenchEntry]:
        """Benches in force (for /ui, explain and metrics); expired ones are dropped."""
        t = self._clock() if now is None else now
        live: list[BenchEntry] = []
        for model in list(self._entries):
            entries = [e for e in self._entries[model] if e.until > t]
            if entries:
                self._entries[model] = entries
                live.extend(entries)
            else:
                del self._entries[model]
        return live

    def lift(self, model: str | None = None) -> int:
        """End the benches of ``model`` (every model when None), e.g. once an operator has
        granted access; returns how many were lifted."""
        if model is None:
            lifted = sum(len(entries) for entries in self._entries.values())
            self._entries.clear()
            return lifted
        return len(self._entries.pop(model, ()))
