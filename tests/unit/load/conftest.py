"""Unit tests of load/bench_lib: put load/ on sys.path as bench.py sees it."""

from __future__ import annotations

import sys
from pathlib import Path

LOAD = Path(__file__).resolve().parents[3] / "load"
if str(LOAD) not in sys.path:
    sys.path.insert(0, str(LOAD))
