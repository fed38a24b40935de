"""Workers scaling: throughput at saturation of ``gateway serve --workers N`` for N = 1, 2...

One gateway per worker count, all started at once (idle ones cost nothing measurable) and
measured in turn, round after round, so that a noisy machine's slow phases hit every count
alike. Each run is wrk (one thread, and no per-answer Lua check unless asked: the load
generator needs CPU too; statuses and socket errors are still counted, and every gateway's
answer is checked once before) with enough connections to keep every worker busy, plain chat
requests as in the main run (the shipped policy, auth,
metrics, the JSON access log; several workers share metrics through
``PROMETHEUS_MULTIPROC_DIR``, as deployed). Nothing is pinned: the workers, the upstream and
wrk share the machine's cores, and the CPU each used is read from /proc (the gateway's whole
process tree: supervisor and workers) and from wrk's rusage.

The upstream is, by default, a canned-answer server (``canned_upstream.py``: the emulator's
own answer, captured once, replayed without parsing or SigV4 checks), because on two cores a
Python emulator that verifies signatures takes a large share of the second core. The gateway
still signs every call. ``emulator`` as upstream measures with the real one instead.

Two figures: the measured throughput ratio (what this machine gives, load generator and
upstream included), and the gateway's CPU per request at each count (if it does not grow, N
workers on N cores of their own serve N times one worker's throughput).
"""

from __future__ import annotations

import resource
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench_lib import procstat
from bench_lib.bodies import direct_request, http, proxy_request
from bench_lib.config import LOAD, PROMPT
from bench_lib.processes import Processes, clean_env, free_port, gateway_env, local_url
from bench_lib.progress import say
from bench_lib.wrk import WrkResult, lua_script, run_wrk


@dataclass(frozen=True)
class ScalingOptions:
    workers: tuple[int, ...] = (1, 2)
    rounds: int = 3
    duration_s: int = 10
    warmup_s: int = 3
    connections: int = 64
    wrk_threads: int = 1
    upstream: str = "canned"  # or "emulator"
    check_bodies: bool = False  # wrk's per-answer Lua check: ~1.5x its CPU


@dataclass(frozen=True)
class ScalingRun:
    """One wrk run against one worker count, with the CPU every process used meanwhile."""

    workers: int
    round: int
    result: WrkResult
    elapsed_s: float
    gateway_cpu_s: float
    upstream_cpu_s: float
    wrk_cpu_s: float
    load_average: float

    def to_json(self) -> dict[str, Any]:
        document = asdict(self)
        document["result"] = self.result.to_json()
        return document


def tree_pids(pid: int) -> list[int]:
    """``pid`` and its descendants (uvicorn's supervisor and its workers), from /proc."""
    found = [pid]
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        found.extend(tree_pids(int(child)))
    return found


def tree_cpu_seconds(pids: Sequence[int]) -> float:
    return sum(procstat.cpu_seconds(pid) for pid in pids)


def children_cpu_seconds() -> float:
    """CPU of the children this process has waited for (wrk, once its run returned)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class Scaling:
    """The processes of a scaling run and its measurements."""

    def __init__(self, procs: Processes, workdir: Path, options: ScalingOptions) -> None:
        self.procs = procs
        self.workdir = workdir
        self.options = options
        self.runs: list[ScalingRun] = []

    def start(self) -> None:
        """The upstream, then one gateway per worker count (each ready and answering)."""
        base_env = clean_env()
        emulator = self.procs.start_emulator(base_env)
        upstream_url = emulator.url
        if self.options.upstream == "canned":
            upstream_url = self._start_canned(base_env, emulator.url)
            self.procs.stop_one("emulator")
        self.procs.gateway_env = gateway_env(base_env, upstream_url)
        for workers in self.options.workers:
            name = f"gateway-{workers}w"
            self.procs.spawn_gateway(name, [sys.executable, "-m", "gateway"], workers=workers)
            self.procs.wait_ready(self.procs[name], "/readyz", timeout=60)
            url, body, headers, mark = proxy_request(self.procs[name].url, True, False, PROMPT)
            status, raw = http("POST", url, body, headers)
            if status != 200 or mark.encode() not in raw:
                raise RuntimeError(f"preflight {name}: {status} {raw[:500]!r}")

    def _start_canned(self, base_env: dict[str, str], emulator_url: str) -> str:
        """The emulator's answer to the benchmark's Converse call, served canned."""
        url, body, headers, mark = direct_request(emulator_url, True, False, PROMPT)
        status, answer = http("POST", url, body, headers)
        if status != 200 or mark.encode() not in answer:
            raise RuntimeError(f"emulator answer: {status} {answer[:500]!r}")
        answer_file = self.workdir / "canned-answer.json"
        answer_file.write_bytes(answer)
        port = free_port()
        command = [
            sys.executable,
            str(LOAD / "bench_lib" / "canned_upstream.py"),
            "--port",
            str(port),
            "--answer",
            str(answer_file),
        ]
        canned = self.procs.spawn("upstream", command, base_env, local_url(port), None)
        self.procs.wait_ready(canned, "/health")
        return canned.url

    @property
    def upstream_name(self) -> str:
        return "upstream" if self.options.upstream == "canned" else "emulator"

    def _script(self, workers: int) -> tuple[str, Path]:
        url, body, headers, mark = proxy_request(
            self.procs[f"gateway-{workers}w"].url, True, False, PROMPT
        )
        body_path = self.workdir / "scaling-body.json"
        body_path.write_bytes(body)
        script = self.workdir / f"scaling-{workers}w.lua"
        script.write_text(
            lua_script(body_path, headers, mark, check_bodies=self.options.check_bodies)
        )
        return url, script

    def run_once(self, workers: int, duration_s: int, round_: int) -> ScalingRun:
        url, script = self._script(workers)
        pids = tree_pids(self.procs[f"gateway-{workers}w"].pid)
        upstream = self.procs[self.upstream_name].pid
        gw0, up0, wrk0 = (
            tree_cpu_seconds(pids),
            procstat.cpu_seconds(upstream),
            children_cpu_seconds(),
        )
        started = time.monotonic()
        result, _ = run_wrk(
            url,
            script,
            connections=self.options.connections,
            duration_s=duration_s,
            threads=self.options.wrk_threads,
        )
        elapsed = time.monotonic() - started
        return ScalingRun(
            workers=workers,
            round=round_,
            result=result,
            elapsed_s=result.duration_s or elapsed,
            gateway_cpu_s=tree_cpu_seconds(pids) - gw0,
            upstream_cpu_s=procstat.cpu_seconds(upstream) - up0,
            wrk_cpu_s=children_cpu_seconds() - wrk0,
            load_average=procstat.load_average()[0],
        )

    def measure(self) -> list[ScalingRun]:
        options = self.options
        say(f"warm-up ({options.warmup_s} s per worker count) ...")
        for workers in options.workers:
            self.run_once(workers, options.warmup_s, 0)
        for round_ in range(1, options.rounds + 1):
            for workers in options.workers:
                run = self.run_once(workers, options.duration_s, round_)
                self.runs.append(run)
                say(describe_run(run))
        return self.runs


def describe_run(run: ScalingRun) -> str:
    r = run.result
    return (
        f"  round {run.round} workers {run.workers}: {r.rps:8.0f} req/s  "
        f"p50 {r.p('p50') or 0:.2f} ms  p99 {r.p('p99') or 0:.2f} ms  "
        f"gateway {run.gateway_cpu_s / run.elapsed_s:.2f} cores  "
        f"upstream {run.upstream_cpu_s / run.elapsed_s:.2f}  "
        f"wrk {run.wrk_cpu_s / run.elapsed_s:.2f}  errors {r.errors}  load {run.load_average:.1f}"
    )


@dataclass(frozen=True)
class ScalingRow:
    """One worker count over every round: median req/s and latencies, CPU summed."""

    workers: int
    rps: float
    best_rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int
    gateway_cores: float
    gateway_cpu_ms_per_req: float
    upstream_cores: float
    wrk_cores: float

    @property
    def total_cores(self) -> float:
        return self.gateway_cores + self.upstream_cores + self.wrk_cores


def summarise(runs: Sequence[ScalingRun]) -> list[ScalingRow]:
    rows = []
    for workers in sorted({r.workers for r in runs}):
        mine = [r for r in runs if r.workers == workers]
        elapsed = sum(r.elapsed_s for r in mine)
        requests = sum(r.result.requests for r in mine)
        rows.append(
            ScalingRow(
                workers=workers,
                rps=statistics.median(r.result.rps for r in mine),
                best_rps=max(r.result.rps for r in mine),
                p50_ms=statistics.median(r.result.p("p50") or 0.0 for r in mine),
                p99_ms=statistics.median(r.result.p("p99") or 0.0 for r in mine),
                errors=sum(r.result.errors for r in mine),
                requests=requests,
                gateway_cores=sum(r.gateway_cpu_s for r in mine) / elapsed,
                gateway_cpu_ms_per_req=sum(r.gateway_cpu_s for r in mine) * 1000 / requests
                if requests
                else 0.0,
                upstream_cores=sum(r.upstream_cpu_s for r in mine) / elapsed,
                wrk_cores=sum(r.wrk_cpu_s for r in mine) / elapsed,
            )
        )
    return rows


def ratios(rows: Sequence[ScalingRow]) -> list[dict[str, float]]:
    """Against the first worker count: the measured throughput ratio, and the ratio N dedicated
    cores would give if the CPU per request stays what it was measured at each count."""
    base = rows[0]
    found = []
    for row in rows[1:]:
        per_request = (
            base.gateway_cpu_ms_per_req / row.gateway_cpu_ms_per_req
            if row.gateway_cpu_ms_per_req
            else 0.0
        )
        found.append(
            {
                "workers": row.workers,
                "over_workers": base.workers,
                "throughput_ratio": row.rps / base.rps if base.rps else 0.0,
                "best_throughput_ratio": row.best_rps / base.best_rps if base.best_rps else 0.0,
                "gateway_cores_ratio": row.gateway_cores / base.gateway_cores
                if base.gateway_cores
                else 0.0,
                "dedicated_cores_ratio": row.workers / base.workers * per_request,
            }
        )
    return found


def scaling_table(rows: Sequence[ScalingRow], options: ScalingOptions, cpus: int) -> str:
    lines = [
        f"workers scaling: plain chat, wrk -t{options.wrk_threads} -c{options.connections}, "
        f"{options.rounds} x {options.duration_s} s per count, {options.upstream} upstream, "
        f"unpinned on {cpus} CPUs (req/s and latencies: medians; best: the best round; CPU: "
        f"over all rounds)",
        f"{'workers':>7} {'req/s':>8} {'best':>8} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6} "
        f"{'gateway cores':>13} {'CPU ms/req':>10} {'upstream':>8} {'wrk':>5} {'all':>5}",
    ]
    for row in rows:
        lines.append(
            f"{row.workers:>7} {row.rps:>8.0f} {row.best_rps:>8.0f} {row.p50_ms:>7.2f} "
            f"{row.p99_ms:>7.2f} "
            f"{row.errors:>6} {row.gateway_cores:>13.2f} {row.gateway_cpu_ms_per_req:>10.3f} "
            f"{row.upstream_cores:>8.2f} {row.wrk_cores:>5.2f} {row.total_cores:>5.2f}"
        )
    for ratio in ratios(rows):
        lines.append(
            f"{ratio['workers']} workers / {ratio['over_workers']}: throughput "
            f"{ratio['throughput_ratio']:.2f}x "
            f"(best rounds {ratio['best_throughput_ratio']:.2f}x), "
            f"gateway cores {ratio['gateway_cores_ratio']:.2f}x; "
            f"with a core per worker at the measured CPU per request: "
            f"{ratio['dedicated_cores_ratio']:.2f}x"
        )
    return "\n".join(lines)
