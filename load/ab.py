"""Interleaved A/B of gateway builds: CPU per request of each git revision, same conditions.

    .venv/bin/python load/ab.py main HEAD                  # plain and streamed, c=16
    .venv/bin/python load/ab.py main main HEAD --rounds 4  # an identical copy as a noise control

On a shared machine absolute figures drift by tens of percent between runs; this puts one
gateway per revision (each ``git archive`` of it, served by this checkout's venv) beside one
emulator, pins them to the same core as ``bench.py`` does, and alternates wrk runs between
them (the order reversed every round), so they see the same conditions. It prints every run,
then the median CPU ms per request and p50 of each build, and each gateway's VmHWM. Nothing is
written under the repository.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from bench_lib import procstat
from bench_lib.bodies import Request, proxy_request
from bench_lib.builds import export, spawn_build
from bench_lib.config import Durations
from bench_lib.processes import Pinning, Processes, gateway_env
from bench_lib.runs import Runner


class BuildsRunner(Runner):
    """A runner whose targets are builds: every one is a gateway (client key on)."""

    def request_for(
        self, target: str, stream: bool, prompt: str, temperature: float | None = None
    ) -> Request:
        return proxy_request(self.procs[target].url, True, stream, prompt, temperature)


def measure(runner: BuildsRunner, names: list[str], args: argparse.Namespace) -> None:
    kinds = [False] if args.plain_only else [False, True]
    for name in names:
        for stream in kinds:
            runner.run(name, stream, args.connections, 2, record=False)  # warm-up
    results: dict[tuple[bool, str], list[tuple[float, float]]] = {}
    for round_ in range(args.rounds):
        order = names if round_ % 2 == 0 else names[::-1]
        for stream in kinds:
            for name in order:
                row = runner.run(name, stream, args.connections, args.seconds, record=False)
                p50 = row.result.p("p50") or 0.0
                results.setdefault((stream, name), []).append((row.cpu_ms_per_req or 0.0, p50))
                print(
                    f"round {round_} {name:<12} {'stream' if stream else 'plain':<6} "
                    f"cpu {row.cpu_ms_per_req or 0:.4f} ms/req  p50 {p50:.3f} ms  "
                    f"errors {row.result.errors}  load {row.load_average:.1f}",
                    flush=True,
                )
    print("\nmedians (CPU ms/request, p50 ms) and every CPU figure")
    for (stream, name), values in sorted(results.items()):
        cpus = sorted(v[0] for v in values)
        p50s = sorted(v[1] for v in values)
        print(
            f"{name:<12} {'stream' if stream else 'plain':<6} cpu {cpus[len(cpus) // 2]:.4f}  "
            f"p50 {p50s[len(p50s) // 2]:.3f}  [{' '.join(f'{c:.3f}' for c in cpus)}]"
        )
    for name in names:
        print(f"{name}: VmHWM {procstat.memory(runner.procs[name].pid).hwm_kb / 1024:.1f} MB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("revs", nargs="+", help="git revisions (repeat one as a noise control)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--plain-only", action="store_true")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="gateway-ab-"))
    procs = Processes(folder, Pinning.of(True))
    base_env = {
        k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GATEWAY_", "PROMETHEUS_"))
    }
    try:
        emulator = procs.start_emulator(base_env)
        procs.gateway_env = gateway_env(base_env, emulator.url)
        names = []
        for index, rev in enumerate(args.revs):
            name = f"{index}:{rev}"
            spawn_build(procs, name, export(rev, folder / f"tree-{index}"))
            names.append(name)
        measure(BuildsRunner(procs, folder, Durations.of(True)), names, args)
    finally:
        procs.stop()
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
