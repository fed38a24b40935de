"""E2E: `gateway serve --workers 2` — whole counts in /metrics across both worker processes."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2 as httpx
from prometheus_client.parser import text_string_to_metric_families

from gateway.emulator.runner import RunningEmulator
from tests.e2e.conftest import KEY, POLICY
from tests.support.process import GatewayProcess

REQUESTS = 40


def _total(url: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "gateway_requests_total"
    )


def _one(url: str) -> int:
    with httpx.Client(timeout=30) as http:  # a new connection each time, so both workers serve
        response = http.post(
            f"{url}/v1/chat/completions",
            json={"model": "haiku", "messages": [{"role": "user", "content": "w"}]},
            headers={"Authorization": f"Bearer {KEY}", "Connection": "close"},
        )
    return response.status_code


def test_two_workers_count_every_request(tmp_path: Path, emulator: RunningEmulator) -> None:
    metrics_dir = tmp_path / "prom"
    env = {
        "GATEWAY_POLICIES": str(POLICY),
        "GATEWAY_API_KEYS": KEY,
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    proc = GatewayProcess(env, args=["--workers", "2"], log_path=tmp_path / "gw.log")
    proc.wait_ready(timeout=40)
    try:
        sent = 0
        pids: set[str] = set()
        with ThreadPoolExecutor(8) as pool:
            while len(pids) < 2 and sent < REQUESTS * 10:  # the kernel picks the worker
                statuses = list(pool.map(_one, [proc.url] * REQUESTS))
                assert statuses == [200] * REQUESTS
                sent += REQUESTS
                pids = {p.name.split("_")[-1] for p in metrics_dir.glob("counter_*.db")}
        assert len(pids) == 2, f"both workers should have served: {pids}"
        for _ in range(6):  # whichever worker answers the scrape, the total is whole
            assert _total(proc.url) == sent
    finally:
        assert proc.stop() == 0
