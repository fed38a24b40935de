"""Load: a soak — steady concurrency of mixed traffic for minutes; memory must stay flat.

    .venv/bin/python load/soak.py [--minutes 3] [--concurrency 16] [--max-growth-mb 25]

Starts the Bedrock emulator and ``gateway serve`` as a child process (the stack of
``load/burst.py``), then keeps ``--concurrency`` requests in flight for ``--minutes``: plain and
streamed chat, forced tool calls, embeddings, cached repeats (``temperature: 0``), fallbacks
(the first candidate of ``chain`` always throttles), a few requests to a route whose only model
is unavailable, and a few invalid bodies. Each kind has its expected answers (the faulted ones a
clean OpenAI error); anything else is an unexpected error. The gateway's RSS and open file
descriptors are sampled every ``--sample-s`` seconds from /proc.

Prints requests per kind, unexpected errors, RSS at start (after ``--warmup-s``), middle and
end, its least-squares slope, and exits 1 on any unexpected error, RSS growth past
``--max-growth-mb`` from the warm-up sample to the end, a growing number of open descriptors,
or a gateway that does not stop with exit 0. Not part of the test run (it takes minutes).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import httpx2 as httpx  # noqa: E402
import orjson  # noqa: E402

from load.burst import (  # noqa: E402
    KEY,
    MISTRAL,
    MIXTRAL,
    gateway_stack,
    open_fds,
    rss_mb,
    upstream_connections,
)

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
CACHED_PROMPTS = [f"cached question number {i}" for i in range(8)]
Check = Callable[[httpx.Response], str | None]  # None when the answer is as expected


def _json(response: httpx.Response) -> Any:
    return orjson.loads(response.content)


def _is_error(response: httpx.Response, statuses: tuple[int, ...]) -> str | None:
    if response.status_code not in statuses:
        return f"status {response.status_code}, expected {statuses}: {response.content[:160]!r}"
    error = _json(response).get("error")
    if not isinstance(error, dict) or set(error) != {"message", "type", "param", "code"}:
        return f"not an OpenAI error body: {response.content[:160]!r}"
    return None


def _completion(response: httpx.Response) -> str | None:
    if response.status_code != 200:
        return f"status {response.status_code}: {response.content[:160]!r}"
    body = _json(response)
    if body.get("object") != "chat.completion" or not body.get("choices"):
        return f"not a chat.completion: {response.content[:160]!r}"
    return None


def _stream(response: httpx.Response) -> str | None:
    if response.status_code != 200:
        return f"status {response.status_code}: {response.content[:160]!r}"
    text = response.content
    if not text.rstrip().endswith(b"data: [DONE]") or b'"error"' in text:
        return f"stream did not end cleanly: {text[-160:]!r}"
    return None


def _tool_call(response: httpx.Response) -> str | None:
    problem = _completion(response)
    if problem is None and _json(response)["choices"][0]["finish_reason"] != "tool_calls":
        problem = f"no tool call: {response.content[:160]!r}"
    return problem


def _embeddings(response: httpx.Response) -> str | None:
    if response.status_code != 200:
        return f"status {response.status_code}: {response.content[:160]!r}"
    data = _json(response).get("data") or []
    if len(data) != 4 or not all(len(item["embedding"]) == 256 for item in data):
        return f"wrong embeddings: {response.content[:160]!r}"
    return None


def _cached(response: httpx.Response) -> str | None:
    problem = _completion(response)
    if problem is None and response.headers.get("x-gateway-cache") not in ("hit", "miss"):
        problem = f"x-gateway-cache {response.headers.get('x-gateway-cache')!r}"
    return problem


def _message(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def request_for(kind: str, n: int, rng: random.Random) -> tuple[str, dict[str, Any] | bytes, Check]:
    """The path, body and check of the ``n``-th request of a kind."""
    chat = "/v1/chat/completions"
    if kind == "plain":
        return chat, {"model": "haiku", "messages": _message(f"plain {n}")}, _completion
    if kind == "stream":
        body = {
            "model": "haiku",
            "messages": _message(f"stream {n}"),
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        return chat, body, _stream
    if kind == "tools":
        body = {
            "model": "tools",
            "messages": _message(f"weather in city {n}?"),
            "tools": [WEATHER_TOOL],
            "tool_choice": "required",
        }
        return chat, body, _tool_call
    if kind == "embeddings":
        body = {"model": "embed", "input": [f"text {n} {i}" for i in range(4)], "dimensions": 256}
        return "/v1/embeddings", body | {"encoding_format": "float"}, _embeddings
    if kind == "cached":
        prompt = rng.choice(CACHED_PROMPTS)
        return chat, {"model": "haiku", "messages": _message(prompt), "temperature": 0}, _cached
    if kind == "fallback":
        return chat, {"model": "chain", "messages": _message(f"fallback {n}")}, _completion
    if kind == "faulted":  # the only model is unavailable; its circuit opens: 503 or 400
        body = {"model": "broken", "messages": _message(f"faulted {n}")}
        return chat, body, lambda r: _is_error(r, (503, 400))
    if kind == "invalid":
        return (
            chat,
            b'{"model": "haiku", "messages": [], "temperature": "hot"}',
            (lambda r: _is_error(r, (400,))),
        )
    raise ValueError(kind)


WEIGHTS = {
    "plain": 4.0,
    "stream": 3.0,
    "tools": 1.0,
    "embeddings": 1.0,
    "cached": 2.0,
    "fallback": 1.0,
    "faulted": 0.3,
    "invalid": 0.3,
}


@dataclass
class SoakStats:
    requests: Counter[str] = field(default_factory=Counter)
    unexpected: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)
    latencies: dict[str, list[float]] = field(default_factory=dict)
    rss: list[tuple[float, float]] = field(default_factory=list)  # (seconds, MiB)
    fds: list[tuple[float, int]] = field(default_factory=list)

    def note(self, kind: str, problem: str | None, seconds: float) -> None:
        self.requests[kind] += 1
        self.latencies.setdefault(kind, []).append(seconds)
        if problem is not None:
            self.unexpected[kind] += 1
            if len(self.examples) < 10:
                self.examples.append(f"{kind}: {problem}")


async def worker(
    http: httpx.AsyncClient, url: str, stats: SoakStats, until: float, seed: int
) -> None:
    rng = random.Random(seed)
    kinds, weights = list(WEIGHTS), list(WEIGHTS.values())
    n = 0
    while time.monotonic() < until:
        kind = rng.choices(kinds, weights)[0]
        path, body, check = request_for(kind, seed * 1_000_000 + n, rng)
        n += 1
        started = time.monotonic()
        try:
            if isinstance(body, bytes):
                response = await http.post(
                    url + path, content=body, headers={"Content-Type": "application/json"}
                )
            else:
                response = await http.post(url + path, json=body)
            problem = check(response)
        except httpx.HTTPError as exc:
            problem = f"transport error {type(exc).__name__}: {exc}"
        stats.note(kind, problem, time.monotonic() - started)


async def sampler(pid: int, stats: SoakStats, began: float, until: float, every_s: float) -> None:
    while True:
        now = time.monotonic()
        stats.rss.append((now - began, rss_mb(pid)))
        stats.fds.append((now - began, open_fds(pid)))
        if now >= until:
            return
        await asyncio.sleep(min(every_s, max(0.0, until - now)))


def slope_mb_per_min(points: list[tuple[float, float]]) -> float:
    if len(points) < 2:
        return 0.0
    xs = [t / 60 for t, _ in points]
    ys = [v for _, v in points]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mean_x) ** 2 for x in xs)
    return (
        sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / var if var else 0.0
    )


async def soak(url: str, pid: int, args: argparse.Namespace, stats: SoakStats) -> float:
    limits = httpx.Limits(max_connections=args.concurrency * 2)
    began = time.monotonic()
    until = began + args.minutes * 60
    async with httpx.AsyncClient(
        limits=limits, timeout=60, headers={"Authorization": f"Bearer {KEY}"}
    ) as http:
        jobs: list[Awaitable[None]] = [
            worker(http, url, stats, until, seed) for seed in range(1, args.concurrency + 1)
        ]
        jobs.append(sampler(pid, stats, began, until, args.sample_s))
        await asyncio.gather(*jobs)
    return time.monotonic() - began


def _at(points: list[tuple[float, float]], when: float) -> float:
    """The sample closest to ``when`` seconds."""
    return min(points, key=lambda p: abs(p[0] - when))[1]


def report(
    stats: SoakStats, args: argparse.Namespace, elapsed: float, exit_code: int, pool: int
) -> int:
    total = sum(stats.requests.values())
    warm = [p for p in stats.rss if p[0] >= args.warmup_s] or stats.rss
    start, end = warm[0][1], stats.rss[-1][1]
    middle = _at(stats.rss, elapsed / 2)
    growth = end - start
    slope = slope_mb_per_min(warm)
    fds_warm = [f for t, f in stats.fds if t >= args.warmup_s] or [stats.fds[0][1]]
    fd_growth = stats.fds[-1][1] - min(fds_warm)
    p50 = {k: round(statistics.median(v) * 1000, 1) for k, v in stats.latencies.items()}
    failures = []
    if stats.unexpected:
        failures.append(f"{sum(stats.unexpected.values())} unexpected answers")
    if growth > args.max_growth_mb:
        failures.append(f"RSS grew {growth:.1f} MiB (> {args.max_growth_mb})")
    if fd_growth > 8:
        failures.append(f"open descriptors grew by {fd_growth}")
    if exit_code != 0:
        failures.append(f"gateway exited {exit_code}")
    summary = {
        "minutes": round(elapsed / 60, 2),
        "concurrency": args.concurrency,
        "requests": total,
        "requests_per_s": round(total / elapsed, 1),
        "per_kind": dict(stats.requests),
        "unexpected": dict(stats.unexpected),
        "unexpected_examples": stats.examples,
        "p50_ms": p50,
        "rss_mib": {
            "first": round(stats.rss[0][1], 1),
            "start_after_warmup": round(start, 1),
            "middle": round(middle, 1),
            "end": round(end, 1),
            "max": round(max(v for _, v in stats.rss), 1),
            "growth": round(growth, 1),
            "slope_per_min": round(slope, 2),
            "samples": len(stats.rss),
        },
        "open_fds": {"start": stats.fds[0][1], "end": stats.fds[-1][1]},
        "upstream_connections_end": pool,
        "gateway_exit_code": exit_code,
        "ok": not failures,
        "failures": failures,
    }
    print(json.dumps(summary, indent=2))
    print(
        f"soak: {elapsed / 60:.1f} min, {total} requests ({total / elapsed:.0f}/s) at "
        f"concurrency {args.concurrency}, {sum(stats.unexpected.values())} unexpected; "
        f"RSS {start:.1f} -> {middle:.1f} -> {end:.1f} MiB (slope {slope:+.2f} MiB/min); "
        f"{'OK' if not failures else 'FAILED: ' + '; '.join(failures)}"
    )
    return 0 if not failures else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--sample-s", type=float, default=5.0)
    parser.add_argument("--warmup-s", type=float, default=20.0)
    parser.add_argument("--max-growth-mb", type=float, default=25.0)
    args = parser.parse_args(argv)
    stats = SoakStats()
    with gateway_stack() as (emulator, process):
        emulator.state.set_fault(MISTRAL, "throttle")
        emulator.state.set_fault(MIXTRAL, "unavailable")
        elapsed = asyncio.run(soak(process.url, process.proc.pid, args, stats))
        upstream_port = int(emulator.url.rsplit(":", 1)[1])
        pool = upstream_connections(upstream_port, process.proc.pid)
    return report(stats, args, elapsed, process.proc.returncode, pool)


if __name__ == "__main__":
    sys.exit(main())
