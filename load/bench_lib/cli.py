"""The command line: arguments, the run end to end, the tables on stdout, the JSON document."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench_lib import procstat
from bench_lib.budgets import budgets
from bench_lib.config import BEDROCK_ID, MODEL, REPO, RESULTS, Durations
from bench_lib.plan import measure
from bench_lib.processes import Pinning, Processes
from bench_lib.profile_runs import run_profile
from bench_lib.progress import bench_progress
from bench_lib.report import budgets_table, profile_text, rows_table
from bench_lib.runs import Runner
from bench_lib.scaling import Scaling, ScalingOptions, ratios, scaling_table, summarise
from bench_lib.wrk import INSTALL_HINT, wrk_path


def parse_args(argv: list[str] | None = None, description: str = "") -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="short runs (about 2 minutes)")
    parser.add_argument("--profile", action="store_true", help="py-spy the gateway at c=16")
    parser.add_argument("--json", type=Path, help="also write the JSON here")
    parser.add_argument(
        "--sweep", type=int, nargs="+", default=[32, 64, 128, 256], help="sweep concurrencies"
    )
    parser.add_argument("--no-pin", dest="pin", action="store_false", help="no CPU pinning")
    parser.add_argument("--keep-logs", action="store_true", help="keep the work folder")
    scaling = parser.add_argument_group("workers scaling (instead of the main run)")
    scaling.add_argument(
        "--workers-scaling",
        type=int,
        nargs="*",
        metavar="N",
        help="throughput at saturation per worker count (default 1 2), nothing else",
    )
    scaling.add_argument("--scaling-connections", type=int, default=64)
    scaling.add_argument("--scaling-seconds", type=int, help="per run (default 10, quick 5)")
    scaling.add_argument("--scaling-rounds", type=int, help="rounds (default 3, quick 2)")
    scaling.add_argument(
        "--scaling-check-bodies",
        action="store_true",
        help="wrk checks every answer's body (about 1.5x the CPU for wrk)",
    )
    scaling.add_argument(
        "--scaling-upstream",
        choices=("canned", "emulator"),
        default="canned",
        help="canned: the emulator's answer replayed by a minimal server (default)",
    )
    return parser.parse_args(argv)


@contextlib.contextmanager
def workdir(keep: bool) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="gateway-bench-"))
    try:
        yield path
    finally:
        if keep:
            print(f"logs and scripts kept in {path}")
        else:
            shutil.rmtree(path, ignore_errors=True)


def main(argv: list[str] | None = None, description: str = "") -> int:
    """Exit code 0 (budgets over or not: a report), 1 on any error, 2 when wrk is missing."""
    args = parse_args(argv, description)
    if wrk_path() is None:
        print(INSTALL_HINT, file=sys.stderr)
        return 2
    if args.workers_scaling is not None:
        return main_scaling(args)
    started = time.monotonic()
    durations = Durations.of(args.quick)
    with workdir(args.keep_logs) as folder:
        load_start = procstat.load_average()
        procs = Processes(folder, Pinning.of(args.pin))
        runner = Runner(procs, folder, durations)
        runner.bar = bench_progress(sys.stderr, json_requested=args.json is not None)
        profile: dict[str, Any] = {}
        try:
            procs.start()
            runner.preflight()
            memory = measure(runner, args.sweep)
            if args.profile:
                print("profiling the gateway (c=16) ...", flush=True)
                profile = run_profile(runner)
        finally:
            runner.bar.close()
            procs.stop()
        found = budgets(runner.rows, memory)
        document = {
            "meta": {
                **meta(args, durations, procs.pinning, load_start),
                "elapsed_s": round(time.monotonic() - started, 1),
            },
            "rows": [row.to_json() for row in runner.rows],
            "memory": memory,
            "budgets": [b.to_json() for b in found],
            "profile": profile,
        }
    print()
    print(rows_table(runner.rows))
    print()
    print(budgets_table(found))
    if profile:
        print()
        print(profile_text(profile))
    write_json(document, args.json)
    print(f"elapsed {time.monotonic() - started:.0f} s")
    errors = sum(row.result.errors for row in runner.rows)
    return 1 if errors else 0


def scaling_options(args: argparse.Namespace) -> ScalingOptions:
    counts = tuple(args.workers_scaling) or (1, 2)
    if any(n < 1 for n in counts) or len(counts) < 2:
        raise SystemExit("--workers-scaling: at least two worker counts, each 1 or more")
    return ScalingOptions(
        workers=counts,
        rounds=args.scaling_rounds or (2 if args.quick else 3),
        duration_s=args.scaling_seconds or (5 if args.quick else 10),
        connections=args.scaling_connections,
        upstream=args.scaling_upstream,
        check_bodies=args.scaling_check_bodies,
    )


def main_scaling(args: argparse.Namespace) -> int:
    """The workers scaling run alone: its table on stdout, its JSON beside the others."""
    started = time.monotonic()
    options = scaling_options(args)
    load_start = procstat.load_average()
    with workdir(args.keep_logs) as folder:
        procs = Processes(folder, Pinning(None, None))
        scaling = Scaling(procs, folder, options)
        try:
            scaling.start()
            runs = scaling.measure()
        finally:
            procs.stop()
    rows = summarise(runs)
    cpus = os.cpu_count() or 0
    print()
    print(scaling_table(rows, options, cpus))
    document = {
        "meta": {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "cpus": cpus,
            "options": vars(options) | {"workers": list(options.workers)},
            "load_average_start": load_start,
            "load_average_end": procstat.load_average(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "git_rev": git_rev(),
            "elapsed_s": round(time.monotonic() - started, 1),
        },
        "runs": [run.to_json() for run in runs],
        "rows": [vars(row) | {"total_cores": row.total_cores} for row in rows],
        "ratios": ratios(rows),
    }
    write_json(document, args.json, kind="scaling")
    print(f"elapsed {time.monotonic() - started:.0f} s")
    return 1 if any(row.errors for row in rows) else 0


def write_json(document: dict[str, Any], extra: Path | None, kind: str = "bench") -> None:
    """``load/results/<kind>-<ts>.json`` (git-ignored), and ``extra`` too when given."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    for path in (out, extra):
        if path is not None:
            path.write_text(json.dumps(document, indent=2) + "\n")
            print(f"JSON: {path}")


def meta(
    args: argparse.Namespace,
    durations: Durations,
    pinning: Pinning,
    load_start: tuple[float, float, float],
) -> dict[str, Any]:
    wrk_version = subprocess.run(
        [wrk_path() or "wrk", "-v"], capture_output=True, text=True, check=False
    ).stdout.splitlines()
    return {
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "quick": args.quick,
        "durations_s": vars(durations),
        "cpus": os.cpu_count(),
        "pinning": {
            "proxies": sorted(pinning.proxy_cpus) if pinning.proxy_cpus else None,
            "emulator_and_wrk": sorted(pinning.load_cpus) if pinning.load_cpus else None,
        },
        "load_average_start": load_start,
        "load_average_end": procstat.load_average(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "wrk": wrk_version[0] if wrk_version else None,
        "model": MODEL,
        "bedrock_id": BEDROCK_ID,
        "git_rev": git_rev(),
    }


def git_rev() -> str | None:
    with contextlib.suppress(OSError):
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        )
        return done.stdout.strip() or None
    return None
