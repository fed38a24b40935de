"""What the capability table costs routing: ``choose()`` on the shipped policy, with and without it.

The same policy is compiled twice: as shipped (every model matched to its table row: inference
profile per residency, end of life, features the table denies) and with every Bedrock id made
unknown to the table (the compiler then uses the entries as written, as it did before the table
existed). Both are timed on the same requests, interleaved, with ``time.process_time``::

    .venv/bin/python load/choose_bench.py            # about 10 s
    .venv/bin/python load/choose_bench.py --json     # one JSON object on stdout
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import time
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from gateway.routing.decision import RouteRequest  # noqa: E402
from gateway.routing.engine import choose  # noqa: E402
from gateway.routing.loader import load_policy_text  # noqa: E402
from gateway.routing.policy import Policy  # noqa: E402
from gateway.routing.stats import LocalStats  # noqa: E402

POLICY = REPO / "policies" / "default.yaml"
CASES = {
    "auto (balanced)": RouteRequest(model="auto", prompt_tokens=1200, max_tokens=400),
    "cheap (cost, tools)": RouteRequest(model="cheap", prompt_tokens=1200, needs_tools=True),
    "fast (latency, stream)": RouteRequest(model="fast", prompt_tokens=300, stream=True),
    "safe (cost, tier 3)": RouteRequest(model="safe", prompt_tokens=5000),
    "one model by name": RouteRequest(model="claude-haiku-4-5", prompt_tokens=100),
}


def policies() -> tuple[Policy, Policy]:
    """(as shipped, with the table out of play)."""
    text = POLICY.read_text(encoding="utf-8")
    untabled = re.sub(r"(bedrock_id:\s*)(\S+)", r"\1untabled.\2", text)
    return load_policy_text(text), load_policy_text(untabled)


def per_call_us(policy: Policy, rounds: int, requests: tuple[RouteRequest, ...]) -> float:
    stats, rng = LocalStats(), random.Random(0)
    start = time.process_time()
    for _ in range(rounds):
        for request in requests:
            choose(request, policy, stats, rng=rng)
    return (time.process_time() - start) / (rounds * len(requests)) * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5000, help="calls per request and sample")
    parser.add_argument("--samples", type=int, default=7, help="interleaved samples per policy")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    shipped, untabled = policies()
    every = tuple(CASES.values())
    per_call_us(shipped, 500, every)  # warm caches and the allocator
    per_call_us(untabled, 500, every)
    with_table, without = [], []
    for _ in range(args.samples):
        with_table.append(per_call_us(shipped, args.rounds, every))
        without.append(per_call_us(untabled, args.rounds, every))
    cases = {
        name: round(per_call_us(shipped, args.rounds, (request,)), 2)
        for name, request in CASES.items()
    }
    result: dict[str, object] = {
        "cases_us": cases,
        "choose_us_with_table": round(statistics.median(with_table), 2),
        "choose_us_without_table": round(statistics.median(without), 2),
        "difference_us": round(statistics.median(with_table) - statistics.median(without), 2),
        "models": len(shipped.models),
        "samples": args.samples,
        "rounds": args.rounds,
    }
    if args.json:
        print(orjson.dumps(result).decode())
    else:
        for name, value in cases.items():
            print(f"{name:26} {value} us")
        for key, value in result.items():
            if key != "cases_us":
                print(f"{key:26} {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
