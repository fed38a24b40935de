"""Load: a short headless Locust run against the gateway and the emulator, with no failures."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.emulator.runner import RunningEmulator
from tests.shipping.kit import REPO
from tests.support.servers import running_gateway

LOCUSTFILE = REPO / "load" / "locustfile.py"
LOCUST = Path(sys.executable).parent / "locust"
KEY = "sk-shipping-load-key"
# Request-name prefixes of each user class (see load/locustfile.py).
CLASSES = {
    "PlainUser": ("POST", "plain "),
    "StreamUser": ("POST", "stream "),
    "CachedRepeatUser": ("POST", "cached "),
    "ToolCallUser": ("POST", "tools call "),
}


@pytest.mark.slow
def test_headless_locust_run_has_no_failures(emulator: RunningEmulator, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "OPENAI_API_KEY": KEY,
        "GATEWAY_LOAD_ROUTES": "cheap,fast,auto",
        # One user of each class (4 users), so every class is exercised.
        "GATEWAY_LOAD_WEIGHTS": "plain=1,stream=1,cached=1,tools=1",
        "GATEWAY_LOAD_WAIT_S": "0.05,0.2",
    }
    with running_gateway(policies=REPO / "policies", api_keys=KEY) as server:
        result = subprocess.run(
            [
                *(str(LOCUST), "-f", str(LOCUSTFILE), "--headless"),
                *("-u", "4", "-r", "4", "-t", "5s", "--stop-timeout", "5"),
                *("--host", server.url, "--csv", str(tmp_path / "run")),
                *("--only-summary", "--loglevel", "WARNING"),
            ],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        hits = server.registry.get_sample_value("gateway_cache_requests_total", {"result": "hit"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    with (tmp_path / "run_stats.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    entries = {(r["Type"], r["Name"]): r for r in rows if r["Name"] != "Aggregated"}
    aggregated = next(r for r in rows if r["Name"] == "Aggregated")
    assert int(aggregated["Failure Count"]) == 0, (tmp_path / "run_failures.csv").read_text()
    assert int(aggregated["Request Count"]) > 20
    for cls, (kind, prefix) in CLASSES.items():
        made = sum(
            int(r["Request Count"])
            for (t, n), r in entries.items()
            if t == kind and n.startswith(prefix)
        )
        assert made > 0, f"{cls} made no request: {sorted(entries)}"
    ttft = [r for (t, _), r in entries.items() if t == "TTFT"]
    assert ttft and all(float(r["Average Response Time"]) > 0 for r in ttft)
    assert any(n.startswith("tools result ") for _, n in entries)
    assert {n.split()[-1] for _, n in entries} == {"cheap", "fast", "auto"}
    assert hits is not None and hits > 0, "the cached-repeat user never hit the cache"
