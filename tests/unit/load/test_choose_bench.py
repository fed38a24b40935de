"""load/choose_bench.py: both policies route every request, and the script reports both."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

SCRIPT = Path(__file__).resolve().parents[3] / "load" / "choose_bench.py"


def test_choose_bench_reports_both_policies() -> None:
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--rounds", "20", "--samples", "1", "--json"],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    result = orjson.loads(out)
    assert result["choose_us_with_table"] > 0 and result["choose_us_without_table"] > 0
    assert result["models"] > 0
