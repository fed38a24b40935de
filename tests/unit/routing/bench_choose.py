"""Benchmark (not collected by pytest): microseconds per ``choose`` on the shipped default policy.

Run: ``.venv/bin/python tests/unit/routing/bench_choose.py [iterations]``
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

from gateway.routing.engine import RouteRequest, choose
from gateway.routing.loader import load_policy
from gateway.routing.stats import LocalStats

ROOT = Path(__file__).resolve().parents[3]
CASES = {
    "auto (balanced, 13 candidates)": RouteRequest(
        model="auto", prompt_tokens=1200, max_tokens=400
    ),
    "cheap (cost, tools)": RouteRequest(model="cheap", prompt_tokens=1200, needs_tools=True),
    "fast (latency, stream)": RouteRequest(model="fast", prompt_tokens=300, stream=True),
    "safe (cost, tier 3)": RouteRequest(model="safe", prompt_tokens=5000),
    "claude-3-haiku (one model)": RouteRequest(model="claude-3-haiku", prompt_tokens=100),
}


def main() -> None:
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    policy = load_policy(ROOT / "policies" / "default.yaml")
    stats = LocalStats()
    for name in policy.models:
        stats.record_success(name, latency_ms=500.0 + len(name) * 10, ttft_ms=200.0)
    rng = random.Random(7)
    for label, request in CASES.items():
        for _ in range(1000):
            choose(request, policy, stats, rng=rng)
        start = time.perf_counter()
        for _ in range(iterations):
            choose(request, policy, stats, rng=rng)
        elapsed = time.perf_counter() - start
        print(f"{label:32s} {elapsed / iterations * 1e6:8.2f} us/choose")


if __name__ == "__main__":
    main()
