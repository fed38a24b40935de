"""What the benchmark sends and for how long: paths, model, prompt, keys, end marks, durations."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LOAD = REPO / "load"
RESULTS = LOAD / "results"
MODEL = "claude-3-haiku"
BEDROCK_ID = "anthropic.claude-3-haiku-20240307-v1:0"
REPLY = "Hello from the Bedrock emulator. This is the fixed answer of the benchmark."
PROMPT = "Say hello to the benchmark, please."
CLIENT_KEY = "sk-bench-0123456789abcdef"
FLOOR_TOKEN = "floor-bench-token"
MAX_TOKENS = 256
RSS_REQUESTS = 20_000
KB = 1024
PROMPT_SIZES = (1 * KB, 10 * KB, 50 * KB, 200 * KB)
MARKS = {
    ("proxy", False): '"choices"',
    ("proxy", True): "[DONE]",
    ("responses", False): '"output"',
    ("responses", True): "response.completed",
}
DIRECT_MARKS = {False: '"output"', True: "messageStop"}
TARGETS = ("direct", "direct-bearer", "floor", "gateway")


@dataclass
class Durations:
    rounds: int
    main_s: int
    sweep_s: int
    size_s: int
    cache_s: int
    warmup_s: int
    profile_s: int

    @classmethod
    def of(cls, quick: bool) -> Durations:
        if quick:
            return cls(1, main_s=4, sweep_s=2, size_s=2, cache_s=3, warmup_s=2, profile_s=8)
        return cls(3, main_s=3, sweep_s=3, size_s=2, cache_s=4, warmup_s=2, profile_s=10)
