"""Helpers for the routing unit tests: fixture files, a fake clock, a fake StatsView."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures"
REPO = HERE.parents[2]


def read_fixture(name: str) -> Any:
    return yaml.safe_load((FIXTURES / name).read_text(encoding="utf-8"))


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeStats:
    """A StatsView with fixed latencies and a set of models whose circuit is open."""

    def __init__(
        self, latency: Mapping[str, float] | None = None, down: Iterable[str] = ()
    ) -> None:
        self.latency = dict(latency or {})
        self.down = set(down)

    def latency_ms(self, model: str, stream: bool) -> float | None:
        return self.latency.get(model)

    def is_available(self, model: str, now: float | None = None) -> bool:
        return model not in self.down

    def bench_reason(self, model: str, need: int, now: float | None = None) -> str:
        return ""
