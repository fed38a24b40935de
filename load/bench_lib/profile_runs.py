"""Profiles of the gateway under load (c=16): py-spy attached, else a second one under cProfile."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench_lib import profiling
from bench_lib.config import LOAD
from bench_lib.runs import Runner


def run_profile(runner: Runner) -> dict[str, Any]:
    """Plain and streamed load on the gateway while py-spy samples it; the summaries by kind."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    profile: dict[str, Any] = {}
    for stream in (False, True):
        kind = "stream" if stream else "plain"
        profile[kind] = _py_spy(runner, spy, stream, runner.workdir / f"profile-{kind}.txt")
    if any("error" in v for v in profile.values()):
        profile.update(cprofile_fallback(runner))
    return profile


def _py_spy(runner: Runner, spy: str, stream: bool, out: Path) -> dict[str, Any]:
    seconds = runner.durations.profile_s
    command = [
        spy,
        "record",
        "--pid",
        str(runner.procs["gateway"].pid),
        "--duration",
        str(seconds),
        "--rate",
        "250",
        "--format",
        "raw",
        "--function",
        "--nonblocking",
        "--output",
        str(out),
    ]
    try:
        spy_proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    except OSError as error:
        return {"tool": "py-spy", "error": str(error)}
    time.sleep(0.5)
    runner.run("gateway", stream, 16, seconds + 1, record=False)
    spy_output = spy_proc.communicate(timeout=60)[0].decode(errors="replace")
    if spy_proc.returncode != 0 or not out.exists():
        return {"tool": "py-spy", "error": spy_output.strip()[-2000:]}
    stacks = profiling.parse_collapsed(out.read_text())
    return {
        "tool": "py-spy " + _py_spy_version(spy),
        "samples": sum(count for _, count in stacks),
        "top_own": [vars(e) for e in profiling.top_own(stacks, 25)],
        "categories_own": [vars(e) for e in profiling.by_category(stacks, inclusive=False)],
        "categories_inclusive": [vars(e) for e in profiling.by_category(stacks, inclusive=True)],
    }


def _py_spy_version(spy: str) -> str:
    done = subprocess.run([spy, "--version"], capture_output=True, text=True, check=False)
    return done.stdout.strip().removeprefix("py-spy ")


def cprofile_fallback(runner: Runner) -> dict[str, Any]:
    """When py-spy cannot attach: a second gateway under cProfile, the same load."""
    procs = runner.procs
    stats_path = runner.workdir / "gateway.pstats"
    proc = procs.spawn_gateway(
        "gateway-cprofile",
        [sys.executable, str(LOAD / "bench_lib" / "cprofile_main.py"), str(stats_path)],
    )
    procs.wait_ready(proc, "/readyz")
    real = procs.procs["gateway"]
    procs.procs["gateway"] = proc
    try:
        for stream in (False, True):
            runner.run("gateway", stream, 16, runner.durations.profile_s, record=False)
    finally:
        procs.procs["gateway"] = real
    proc.popen.send_signal(signal.SIGTERM)
    proc.popen.wait(timeout=30)
    return {"cprofile (plain + stream)": _cprofile_summary(stats_path)}


def _cprofile_summary(stats_path: Path) -> dict[str, Any]:
    import pstats

    stats = pstats.Stats(str(stats_path))
    entries = sorted(
        stats.stats.items(),  # type: ignore[attr-defined]
        key=lambda item: item[1][2],
        reverse=True,
    )
    total = sum(v[2] for _, v in entries) or 1.0
    return {
        "tool": "cProfile (in-process; py-spy could not attach)",
        "top_own": [
            {
                "name": f"{func[2]} ({func[0].split('site-packages/')[-1]}:{func[1]})",
                "seconds": v[2],
                "share": v[2] / total,
            }
            for func, v in entries[:25]
        ],
    }
