"""Long-lived streams, the command line: arguments, the run end to end, tables and JSON."""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench_lib import procstat, profiling
from bench_lib.builds import export, spawn_build
from bench_lib.cli import git_rev, workdir
from bench_lib.config import RESULTS
from bench_lib.processes import Pinning, Processes
from bench_lib.report import budgets_table, profile_text
from bench_lib.stream_report import client_checks, goals, outcomes_text, runs_table
from bench_lib.stream_runs import TARGETS, StreamRun, StreamShape, configure_emulator, measure


def parse_args(argv: list[str] | None, description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--streams", type=int, nargs="+", default=[1000], help="concurrent streams (each count)"
    )
    parser.add_argument("--ramp-s", type=float, default=1.0, help="spread the starts over this")
    parser.add_argument("--rounds", type=int, default=1, help="every target this many times")
    parser.add_argument("--targets", nargs="+", choices=TARGETS, default=list(TARGETS))
    parser.add_argument("--warmup", type=int, default=50, help="streams per target first")
    parser.add_argument(
        "--pool-size", type=int, help="GATEWAY_UPSTREAM_POOL_SIZE (default: the shipped one)"
    )
    parser.add_argument("--chunks", type=int, default=40, help="text deltas a stream")
    parser.add_argument("--chunk-delay-ms", type=int, default=100, help="between two frames")
    parser.add_argument(
        "--builds",
        nargs="+",
        default=[],
        metavar="REV",
        help="also gateways of these git revisions (targets gateway@REV, after gateway)",
    )
    parser.add_argument("--profile", action="store_true", help="py-spy the gateway's last run")
    parser.add_argument("--json", type=Path, help="also write the JSON here")
    parser.add_argument("--no-pin", dest="pin", action="store_false", help="no CPU pinning")
    parser.add_argument("--keep-logs", action="store_true", help="keep the work folder")
    return parser.parse_args(argv)


def uptime() -> str:
    done = subprocess.run(["uptime"], capture_output=True, text=True, check=False)
    return done.stdout.strip()


def raise_nofile() -> int:
    """The open-file limit up to the hard one, here and so in every child (a socket a stream,
    two in a proxy)."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def pool_size(args: argparse.Namespace) -> int:
    from gateway.config import Settings

    default = Settings.model_fields["upstream_pool_size"].default
    return int(args.pool_size or default)


def main(argv: list[str] | None = None, description: str = "") -> int:
    """Exit code 0 when every stream of every run completed, 1 otherwise."""
    args = parse_args(argv, description)
    nofile = raise_nofile()
    shape = StreamShape(chunks=args.chunks, chunk_delay_ms=args.chunk_delay_ms)
    started, up_start, load_start = time.monotonic(), uptime(), procstat.load_average()
    print(up_start, flush=True)
    pool = pool_size(args)
    extra = {"GATEWAY_UPSTREAM_POOL_SIZE": str(args.pool_size)} if args.pool_size else {}
    runs: list[tuple[int, StreamRun]] = []
    profile: dict[str, Any] = {}
    with workdir(args.keep_logs) as folder:
        # The floor is the bare pass-through proxy: no bound on its upstream connections.
        procs = Processes(folder, Pinning.of(args.pin), ("--pool-size", "0"), gateway_extra=extra)
        try:
            procs.start()
            targets = [*args.targets, *start_builds(procs, folder, args.builds)]
            configure_emulator(procs, shape)
            warm_up(procs, folder, targets, args.warmup, shape)
            for round_index in range(args.rounds):
                for streams in args.streams:
                    for target in targets:
                        last = round_index == args.rounds - 1 and target == "gateway"
                        spy = start_py_spy(procs, folder, args) if args.profile and last else None
                        run = measure(procs, folder, target, streams, args.ramp_s, shape)
                        run.first = not any(r.target == target for _, r in runs)
                        if spy is not None:
                            profile = finish_py_spy(*spy)
                        runs.append((round_index, run))
                        print_progress(run)
        finally:
            procs.stop()
    up_end = uptime()
    document = {
        "meta": {
            **run_meta(args, procs, load_start, shape),
            "uptime_start": up_start,
            "uptime_end": up_end,
            "nofile": nofile,
            "upstream_pool_size": pool,
            "elapsed_s": round(time.monotonic() - started, 1),
        },
        "runs": [dict(run.to_json(), round=r) for r, run in runs],
        "goals": report(runs),
        "profile": profile,
    }
    if profile:
        print(profile_text({"gateway streams": profile}))
    print(up_end)
    write_json(document, args.json)
    return 1 if any(run.errors for _, run in runs) else 0


def start_builds(procs: Processes, folder: Path, revs: list[str]) -> list[str]:
    """A gateway per revision (``git archive`` of it), pinned as the gateway is; their names."""
    names = []
    for index, rev in enumerate(revs):
        name = f"gateway@{rev}"
        spawn_build(procs, name, export(rev, folder / f"tree-{index}"))
        names.append(name)
    return names


def warm_up(
    procs: Processes, folder: Path, targets: list[str], streams: int, shape: StreamShape
) -> None:
    """A few streams per target first (code paths, pools); every one must complete."""
    print(f"warm-up: {streams} streams per target ...", flush=True)
    for target in targets:
        run = measure(procs, folder, target, streams, 0.2, shape)
        if run.errors:
            samples = run.client.get("samples")
            raise RuntimeError(f"warm-up {target}: {run.summary['outcomes']} {samples}")


def print_progress(run: StreamRun) -> None:
    s = run.summary
    _, flowing = run.peaks()
    print(
        f"  {run.target:<12} x{run.streams}: ok {s['ok']} errors {s['errors']} "
        f"flowing {flowing}  TTFT p99 {s['ttft_ms']['p99'] or 0:.0f} ms  "
        f"gap p99 {s['gap_ms']['p99'] or 0:.1f} ms  CPU {run.cpu_ms_per_stream:.2f} ms/stream  "
        f"load {procstat.load_average()[0]:.2f}",
        flush=True,
    )


def report(runs: list[tuple[int, StreamRun]]) -> list[dict[str, Any]]:
    """Print the tables; the goals of each gateway run (against its round's floor) as JSON."""
    print()
    print(runs_table([run for _, run in runs]))
    errors = outcomes_text([run for _, run in runs])
    if errors:
        print(errors)
    found: list[dict[str, Any]] = []
    for round_index, run in runs:
        if not run.target.startswith("gateway"):
            continue
        floor = next(
            (
                f
                for r, f in runs
                if r == round_index and f.target == "floor" and f.streams == run.streams
            ),
            None,
        )
        budgets = goals(run, floor)
        print(f"\ngoals, {run.target}, {run.streams} streams, round {round_index + 1}:")
        print(budgets_table(budgets))
        found.append(
            {
                "round": round_index,
                "target": run.target,
                "streams": run.streams,
                "goals": [b.to_json() for b in budgets],
            }
        )
    checks = client_checks([run for _, run in runs])
    print("\nthe load client:")
    print(budgets_table(checks))
    found.append({"client": [b.to_json() for b in checks]})
    return found


def run_meta(
    args: argparse.Namespace,
    procs: Processes,
    load_start: tuple[float, float, float],
    shape: StreamShape,
) -> dict[str, Any]:
    pinning = procs.pinning
    return {
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "cpus": os.cpu_count(),
        "pinning": {
            "proxies": sorted(pinning.proxy_cpus) if pinning.proxy_cpus else None,
            "emulator_and_client": sorted(pinning.load_cpus) if pinning.load_cpus else None,
        },
        "load_average_start": load_start,
        "load_average_end": procstat.load_average(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "git_rev": git_rev(),
        "streams": args.streams,
        "ramp_s": args.ramp_s,
        "rounds": args.rounds,
        "warmup": args.warmup,
        "shape": vars(shape),
    }


def start_py_spy(
    procs: Processes, folder: Path, args: argparse.Namespace
) -> tuple[subprocess.Popen[bytes], Path]:
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    out = folder / "profile-streams.txt"
    seconds = int(args.ramp_s + 8)
    command = [spy, "record", "--pid", str(procs["gateway"].pid), "--duration", str(seconds)]
    command += ["--rate", "200", "--format", "raw", "--nonblocking", "--output", str(out)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    time.sleep(0.5)
    return proc, out


def finish_py_spy(proc: subprocess.Popen[bytes], out: Path) -> dict[str, Any]:
    output = proc.communicate(timeout=120)[0].decode(errors="replace")
    if proc.returncode != 0 or not out.exists():
        return {"tool": "py-spy", "error": output.strip()[-2000:]}
    stacks = profiling.parse_collapsed(out.read_text())
    RESULTS.mkdir(parents=True, exist_ok=True)
    kept = RESULTS / f"streams-profile-{time.strftime('%Y%m%d-%H%M%S')}.txt"
    shutil.copyfile(out, kept)
    return {
        "tool": "py-spy",
        "raw": str(kept),
        "samples": sum(count for _, count in stacks),
        "top_own": [vars(e) for e in profiling.top_own(stacks, 30)],
        "categories_own": [vars(e) for e in profiling.by_category(stacks, inclusive=False)],
        "categories_inclusive": [vars(e) for e in profiling.by_category(stacks, inclusive=True)],
    }


def write_json(document: dict[str, Any], extra: Path | None) -> None:
    """``load/results/streams-<ts>.json`` (git-ignored), and ``extra`` too when given."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"streams-{time.strftime('%Y%m%d-%H%M%S')}.json"
    for path in (out, extra):
        if path is not None:
            path.write_text(json.dumps(document, indent=2) + "\n")
            print(f"JSON: {path}")
