"""Measure what the policy loader costs at its bounds: the largest file it accepts (1 MiB of
routes) and a few-hundred-byte alias bomb (refused). Prints time and peak RSS growth.

Run: .venv/bin/python scripts/policy_limits_probe.py
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway.routing import PolicyError, load_policy
from gateway.routing.loader import MAX_POLICY_BYTES

HEAD = (
    "version: 1\nmodels:\n  m: {bedrock_id: anthropic.claude-3-haiku-20240307-v1:0,"
    " context_window: 200000, price: {input_per_mtok: 1, output_per_mtok: 1}}\nroutes:\n"
)


def big_policy() -> str:
    """As many routes as fit under the size cap."""
    lines = [HEAD]
    size, n = len(HEAD), 0
    while True:
        line = f"  route-{n:06d}: {{strategy: ordered, candidates: [m]}}\n"
        if size + len(line) + 40 > MAX_POLICY_BYTES:
            break
        lines.append(line)
        size, n = size + len(line), n + 1
    lines.append("defaults: {route: route-000000}\n")
    return "".join(lines)


def bomb(levels: int = 9) -> str:
    lines = ["version: 1", 'a0: &a0 ["x","x","x","x","x","x","x","x","x"]']
    for level in range(1, levels):
        lines.append(f"a{level}: &a{level} [{','.join([f'*a{level - 1}'] * 9)}]")
    return "\n".join(lines) + "\n"


def measure(label: str, text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "policy.yaml"
        path.write_text(text)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        try:
            policy = load_policy(path)
            outcome = f"loaded, {len(policy.routes)} routes"
        except PolicyError as exc:
            outcome = f"refused: {str(exc).splitlines()[0][:90]}"
        elapsed = time.perf_counter() - started
        grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak) / 1024
        print(f"{label}: {len(text):,} bytes, {elapsed:.2f} s, peak RSS +{grown:.0f} MB, {outcome}")


if __name__ == "__main__":
    measure("alias bomb", bomb())
    measure("largest accepted policy", big_policy())
    measure("one byte over the cap", "#" * MAX_POLICY_BYTES + "\n" + HEAD)
