"""Resilience: measuring probes — the gateway loop's longest stall, /healthz latency, RSS.

Figures are printed (``pytest -s``) for the README; tests assert only generous upper bounds.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx2 as httpx

from tests.resilience.helpers import gateway_loop
from tests.support.servers import GatewayServer

TICK_S = 0.005


def rss_mb() -> tuple[float, float]:
    """(current, peak) resident memory of this process (the in-thread gateway included)."""
    values: dict[str, float] = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                values[name] = int(rest.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]


@dataclass
class Figures:
    loop_stall_s: float = 0.0
    healthz_max_s: float = 0.0
    healthz_failures: int = 0
    rss_growth_mb: float = 0.0
    peak_growth_mb: float = 0.0
    samples: list[float] = field(default_factory=list)

    def line(self, what: str) -> str:
        return (
            f"\n{what}: loop stall max {self.loop_stall_s * 1000:.0f} ms, /healthz max "
            f"{self.healthz_max_s * 1000:.1f} ms over {len(self.samples)} probes "
            f"({self.healthz_failures} failed), RSS +{self.rss_growth_mb:.0f} MB "
            f"(peak +{self.peak_growth_mb:.0f} MB)"
        )


@contextmanager
def measured(gateway: GatewayServer) -> Iterator[Figures]:
    """A ticker on the gateway's loop and a /healthz poller on its own connection."""
    figures = Figures()
    loop = gateway_loop(gateway)
    stop = threading.Event()

    async def ticker() -> float:
        worst, last = 0.0, time.perf_counter()
        while not stop.is_set():
            await asyncio.sleep(TICK_S)
            now = time.perf_counter()
            worst, last = max(worst, now - last - TICK_S), now
        return worst

    def poll() -> None:
        with httpx.Client(base_url=gateway.url, timeout=30) as http:
            while not stop.is_set():
                started = time.perf_counter()
                try:
                    http.get("/healthz").raise_for_status()
                except httpx.HTTPError:
                    figures.healthz_failures += 1
                figures.samples.append(time.perf_counter() - started)
                time.sleep(0.01)

    rss0, peak0 = rss_mb()
    future = asyncio.run_coroutine_threadsafe(ticker(), loop)
    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    while not figures.samples and poller.is_alive():  # a baseline probe before the load
        time.sleep(0.005)
    try:
        yield figures
    finally:
        stop.set()
        figures.loop_stall_s = future.result(timeout=60)
        poller.join(timeout=60)
        rss1, peak1 = rss_mb()
        figures.rss_growth_mb, figures.peak_growth_mb = rss1 - rss0, peak1 - peak0
        figures.healthz_max_s = max(figures.samples, default=0.0)
