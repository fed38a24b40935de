"""E2E: `gateway serve --workers 2` — whole counts in /metrics across both worker processes,
whichever worker answers the scrape: counters, histogram counts and token totals are the sums
of what both served, gauges are not doubled, and the folder the samples live in is the
operator's (emptied at start) or the gateway's own (removed at exit)."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2 as httpx
from prometheus_client.parser import text_string_to_metric_families

from gateway.emulator.runner import RunningEmulator
from tests.e2e.conftest import KEY, POLICY
from tests.support.process import GatewayProcess

BATCH = 40
ENV = {"GATEWAY_POLICIES": str(POLICY), "GATEWAY_API_KEYS": KEY}


def _samples(url: str) -> Counter[str]:
    """Every sample name of one scrape, summed over its label sets."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    totals: Counter[str] = Counter()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            totals[sample.name] += sample.value
    return totals


def _one(url: str) -> int:
    """One chat request on a new connection (so the kernel may give it to either worker);
    the tokens its answer reports."""
    with httpx.Client(timeout=30) as http:
        response = http.post(
            f"{url}/v1/chat/completions",
            json={"model": "haiku", "messages": [{"role": "user", "content": "w"}]},
            headers={"Authorization": f"Bearer {KEY}", "Connection": "close"},
        )
    assert response.status_code == 200, response.text
    usage = response.json()["usage"]
    return int(usage["prompt_tokens"]) + int(usage["completion_tokens"])


def _until_both_served(url: str, metrics_dir: Path) -> tuple[int, int]:
    """Batches of requests until both workers have written counters: (requests, tokens)."""
    sent = tokens = 0
    with ThreadPoolExecutor(8) as pool:
        while sent < BATCH * 10:
            tokens += sum(pool.map(_one, [url] * BATCH))
            sent += BATCH
            pids = {p.stem.split("_")[-1] for p in metrics_dir.glob("counter_*.db")}
            if len(pids) == 2:
                return sent, tokens
    raise AssertionError(f"one worker served all {sent} requests: {pids}")


def _check_whole(url: str, sent: int, tokens: int) -> None:
    for _ in range(6):  # each scrape may be answered by either worker
        totals = _samples(url)
        assert totals["gateway_requests_total"] == sent
        assert totals["gateway_request_duration_seconds_count"] == sent
        assert totals["gateway_upstream_duration_seconds_count"] == sent
        assert totals["gateway_routing_decisions_total"] == sent
        assert totals["gateway_tokens_total"] == tokens
        assert totals["gateway_in_flight_requests"] == 0  # livesum: only this scrape in flight
        assert totals["gateway_build_info"] == 1  # max, not one per worker


def _worker_dirs(proc: GatewayProcess) -> set[str]:
    """PROMETHEUS_MULTIPROC_DIR as uvicorn's worker processes (the supervisor's children)
    see it."""
    children = Path(f"/proc/{proc.proc.pid}/task/{proc.proc.pid}/children").read_text().split()
    found = set()
    for pid in children:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        for entry in environ:
            if entry.startswith(b"PROMETHEUS_MULTIPROC_DIR="):
                found.add(entry.split(b"=", 1)[1].decode())
    return found


def test_two_workers_count_every_request(tmp_path: Path, emulator: RunningEmulator) -> None:
    metrics_dir = tmp_path / "prom"
    metrics_dir.mkdir()
    (metrics_dir / "counter_99999.db").write_bytes(b"stale")  # a previous run's file
    env = {**ENV, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    proc = GatewayProcess(env, args=["--workers", "2"], log_path=tmp_path / "gw.log")
    proc.wait_ready(timeout=40)
    try:
        assert not (metrics_dir / "counter_99999.db").exists()
        sent, tokens = _until_both_served(proc.url, metrics_dir)
        _check_whole(proc.url, sent, tokens)
    finally:
        assert proc.stop() == 0
    assert metrics_dir.is_dir()  # the operator's folder stays


def test_without_a_folder_the_gateway_makes_and_removes_its_own(
    tmp_path: Path, emulator: RunningEmulator
) -> None:
    proc = GatewayProcess(ENV, args=["--workers", "2"], log_path=tmp_path / "gw.log")
    proc.wait_ready(timeout=40)
    try:
        (folder,) = _worker_dirs(proc)
        sent, tokens = _until_both_served(proc.url, Path(folder))
        _check_whole(proc.url, sent, tokens)
    finally:
        assert proc.stop() == 0
    assert not Path(folder).exists()
