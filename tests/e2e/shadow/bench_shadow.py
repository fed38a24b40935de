"""Benchmark (not a test, not collected): the client's latency with shadowing on and off.

    .venv/bin/python -m tests.e2e.shadow.bench_shadow [--requests 300] [--rounds 6] [--gap-ms 5]

Runs the emulator in its own process (``gateway emulator``, so it shares no GIL with the
gateway) and the gateway with the shadow e2e policy (route ``shadowed`` copies every request to
three shadow models). Rounds alternate three modes: ``off`` (no hook), ``hook`` (the runner
decides but samples nothing: the hook's own cost) and ``on`` (every request shadowed three
times), sequential requests from one keep-alive client, ``--gap-ms`` apart, plain and streamed.
It prints p50/p95 per mode and the spread of the off rounds' medians (the noise).

``--gap-ms 0`` sends the next request the instant the previous answer arrived: the shadow
calls of request k then run on the gateway's CPU while request k+1 is served, and that CPU
(three more Bedrock calls per request) shows up in the client's latency; with any idle time
between requests (real Bedrock answers take hundreds of ms) it does not.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from typing import Any

import httpx2 as httpx

from gateway.emulator.credentials import (
    EMULATOR_ACCESS_KEY_ID,
    EMULATOR_REGION,
    EMULATOR_SECRET_ACCESS_KEY,
)
from tests.support.servers import aws_env, free_port

MODES = ("off", "hook", "on")


class _NeverSample:
    """An rng for the ``hook`` mode: ``random()`` is 1.0, above every share."""

    def random(self) -> float:
        return 1.0


WEATHER = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}},
}


def one_round(
    client: httpx.Client, key: str, n: int, stream: bool, gap_s: float = 0.0
) -> list[float]:
    body: dict[str, Any] = {
        "model": "shadowed",
        "messages": [{"role": "user", "content": "use get_weather please"}],
        "tools": [WEATHER],
        "stream": stream,
    }
    out = []
    for _ in range(n):
        started = time.perf_counter()
        response = client.post(
            "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {key}"}
        )
        response.read()
        out.append((time.perf_counter() - started) * 1000.0)
        assert response.status_code == 200, response.text
        time.sleep(gap_s)
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--gap-ms", type=float, default=5.0)
    args = parser.parse_args()
    port = free_port()
    emulator = subprocess.Popen(
        [sys.executable, "-m", "gateway", "emulator", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    env = {
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": EMULATOR_ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": EMULATOR_SECRET_ACCESS_KEY,
        "AWS_REGION": EMULATOR_REGION,
    }
    try:
        _wait_for(env["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] + "/_emulator/health")
        with aws_env(env):
            run(args)
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)


def _wait_for(url: str) -> None:
    deadline = time.monotonic() + 15
    while True:
        try:
            if httpx.get(url).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("the emulator did not start")
        time.sleep(0.05)


def run(args: argparse.Namespace) -> None:
    from gateway.shadow.runner import ShadowRunner
    from tests.e2e.shadow.conftest import KEY, start_gateway

    server, metrics = start_gateway()
    runners: dict[str, ShadowRunner | None] = {
        "off": None,
        "hook": ShadowRunner(server.state, metrics=metrics, rng=_NeverSample()),  # type: ignore[arg-type]
        "on": server.state.shadow,
    }
    per_round = args.requests // args.rounds
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            for stream in (False, True):
                one_round(client, KEY, 50, stream)  # warm up both paths
                medians: dict[str, list[float]] = {mode: [] for mode in MODES}
                samples: dict[str, list[float]] = {mode: [] for mode in MODES}
                for index in range(args.rounds):
                    order = MODES if index % 2 == 0 else tuple(reversed(MODES))
                    for mode in order:
                        server.state.shadow = runners[mode]
                        got = one_round(client, KEY, per_round, stream, args.gap_ms / 1000)
                        medians[mode].append(statistics.median(got))
                        samples[mode].extend(got)
                        time.sleep(0.2)  # let shadow calls finish between rounds
                report(stream, args.gap_ms, medians, samples)
    finally:
        server.stop()


def report(
    stream: bool, gap_ms: float, medians: dict[str, list[float]], samples: dict[str, list[float]]
) -> None:
    kind = f"{'streamed' if stream else 'plain'}, gap {gap_ms:g} ms"
    noise = max(medians["off"]) - min(medians["off"])
    for mode in MODES:
        data = samples[mode]
        rounds = ", ".join(f"{m:.2f}" for m in medians[mode])
        print(
            f"{kind}: shadow {mode:4} n={len(data)} p50={pct(data, 0.5):.2f} ms "
            f"p95={pct(data, 0.95):.2f} ms (round medians {rounds})"
        )
    off = statistics.median(samples["off"])
    deltas = ", ".join(
        f"{mode} - off {statistics.median(samples[mode]) - off:+.2f} ms" for mode in MODES[1:]
    )
    print(f"{kind}: p50 {deltas}; spread of the off rounds' medians {noise:.2f} ms")


if __name__ == "__main__":
    main()
