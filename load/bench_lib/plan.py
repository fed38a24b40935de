"""The plan of a run: warm-up, main rows, sweep, memory, prompt sizes, cache rows, relations."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bench_lib.bodies import http
from bench_lib.config import PROMPT, PROMPT_SIZES, RSS_REQUESTS, TARGETS
from bench_lib.rows import relate
from bench_lib.runs import Plan, Runner


def measure(runner: Runner, sweep: Sequence[int]) -> dict[str, Any]:
    """Every phase in turn (rows recorded in ``runner.rows``); the memory readings."""
    print("warm-up ...", flush=True)
    runner.warm_up()
    main_rows(runner)
    responses_rows(runner)
    sweep_rows(runner, sweep)
    memory = memory_after_requests(runner)
    prompt_size_rows(runner)
    cache_rows(runner)
    memory["gateway_end"] = runner.procs.memory_mb("gateway")
    memory["floor_end"] = runner.procs.memory_mb("floor")
    memory["gateway_requests_end"] = runner.gateway_requests
    relate(runner.rows)
    return memory


def main_rows(runner: Runner) -> None:
    """c=1 and c=16, plain and streamed, direct / floor / gateway (direct-bearer at c=1 only)."""
    d = runner.durations
    print(
        f"main rows (direct / floor / gateway interleaved, {d.rounds} round(s) of "
        f"{d.main_s} s; merged: CPU summed, percentiles and req/s the median):",
        flush=True,
    )
    plan: Plan = []
    for connections in (1, 16):
        for stream in (False, True):
            for target in TARGETS:
                if target != "direct-bearer" or connections == 1:
                    plan.append((target, stream, connections, None))
    runner.run_rounds(plan, d.rounds, d.main_s)


def responses_rows(runner: Runner) -> None:
    """``POST /v1/responses`` at c=16, plain and streamed: the same question as the chat rows."""
    d = runner.durations
    print(f"responses (gateway /v1/responses, c=16, {d.rounds} round(s)):", flush=True)
    plan: Plan = [("responses", stream, 16, None) for stream in (False, True)]
    runner.run_rounds(plan, d.rounds, d.main_s)


def sweep_rows(runner: Runner, sweep: Sequence[int]) -> None:
    print("sweep:", flush=True)
    for connections in sweep:
        for stream in (False, True):
            for target in ("floor", "gateway"):
                runner.run(target, stream, connections, runner.durations.sweep_s)


def memory_after_requests(runner: Runner) -> dict[str, Any]:
    """Peak RSS once the gateway has served at least ``RSS_REQUESTS`` (more load if needed)."""
    while runner.gateway_requests < RSS_REQUESTS:
        runner.run("gateway", False, 16, runner.durations.main_s, record=False)
    procs = runner.procs
    memory: dict[str, Any] = {
        "gateway_requests_before": runner.gateway_requests,
        "gateway": procs.memory_mb("gateway"),
        "floor": procs.memory_mb("floor"),
        "emulator": procs.memory_mb("emulator"),
    }
    print(
        f"memory after {runner.gateway_requests} gateway requests: "
        f"gateway peak {memory['gateway']['hwm_mb']:.1f} MB, "
        f"floor peak {memory['floor']['hwm_mb']:.1f} MB",
        flush=True,
    )
    return memory


def prompt_size_rows(runner: Runner) -> None:
    d = runner.durations
    size_rounds = min(d.rounds, 2)
    print(f"prompt sizes (c=1, plain, {size_rounds} round(s) of {d.size_s} s):", flush=True)
    plan: Plan = [(target, False, 1, size) for size in PROMPT_SIZES for target in TARGETS]
    runner.run_rounds(plan, size_rounds, d.size_s)


def cache_rows(runner: Runner) -> None:
    """Miss (a unique prompt each request) and hit (one stored prompt) rows, temperature 0."""
    cache_s = runner.durations.cache_s
    print("cache (gateway, c=16, plain; temperature 0):", flush=True)
    url, body, headers, _ = runner.request_for("gateway", False, PROMPT, 0.0)
    http("POST", url, body, headers)  # the first one stores; the hit row only hits
    for stream in (False, True):
        if stream:
            url, body, headers, _ = runner.request_for("gateway", True, PROMPT, 0.0)
            http("POST", url, body, headers)
        runner.run("gateway", stream, 16, cache_s, cache="miss")
        runner.run("gateway", stream, 16, cache_s, cache="hit")
