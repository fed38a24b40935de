"""Long-lived streams: the emulator set to stream slowly, one client run per target measured.

A run: the measured process's CPU time and RSS before, the load client (its own process,
on the load CPUs) opening every stream, the RSS sampled every 20 ms meanwhile, the CPU after.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from bench_lib import procstat
from bench_lib.bodies import direct_request, http, proxy_request
from bench_lib.config import LOAD, PROMPT, REPLY
from bench_lib.processes import Processes
from bench_lib.stream_stats import peak_flowing, rss_at_peak

TARGETS = ("direct", "floor", "gateway")
RSS_SAMPLE_S = 0.02


@dataclass(frozen=True)
class StreamShape:
    """What the emulator streams, and what the client allows a stream."""

    chunks: int = 40
    chunk_delay_ms: int = 100
    first_token_timeout_s: float = 20.0
    total_timeout_s: float = 120.0


@dataclass
class StreamRun:
    """One client run against one target, with the measured process's readings."""

    target: str
    streams: int
    ramp_s: float
    client: dict[str, Any]
    cpu_s: float
    emulator_cpu_s: float
    idle_rss_kb: int
    hwm_kb: int
    rss: list[list[float]] = field(default_factory=list)
    #: The process's first big run: Python keeps the memory it grew, so only that one shows
    #: what an open stream costs (a later run reuses it and reads near zero).
    first: bool = True

    @property
    def summary(self) -> dict[str, Any]:
        return dict(self.client["summary"])

    @property
    def errors(self) -> int:
        return int(self.summary["errors"])

    @property
    def cpu_ms_per_stream(self) -> float:
        return self.cpu_s * 1000 / self.streams

    @property
    def cpu_us_per_chunk(self) -> float | None:
        chunks = self.summary["chunks"]
        return self.cpu_s * 1e6 / chunks if chunks else None

    def peaks(self) -> tuple[int, int]:
        return peak_flowing(self.client["timeline"])

    def rss_per_stream_kb(self) -> tuple[float | None, float | None]:
        """(RSS at peak concurrency, KiB; its growth over idle per open stream, KiB)."""
        at_peak, peak = rss_at_peak(self.rss, self.client["timeline"])
        if at_peak is None or not peak:
            return None, None
        return at_peak, (at_peak - self.idle_rss_kb) / peak if self.first else None

    def to_json(self) -> dict[str, Any]:
        at_peak, per_stream = self.rss_per_stream_kb()
        peak_open, flowing = self.peaks()
        client = {k: v for k, v in self.client.items() if k not in ("timeline", "per_stream")}
        return {
            "target": self.target,
            "streams": self.streams,
            "ramp_s": self.ramp_s,
            "cpu_s": self.cpu_s,
            "cpu_ms_per_stream": self.cpu_ms_per_stream,
            "cpu_us_per_chunk": self.cpu_us_per_chunk,
            "emulator_cpu_s": self.emulator_cpu_s,
            "idle_rss_kb": self.idle_rss_kb,
            "rss_at_peak_kb": at_peak,
            "rss_kb_per_open_stream": per_stream,
            "hwm_kb": self.hwm_kb,
            "first_run_of_process": self.first,
            "peak_open": peak_open,
            "peak_flowing": flowing,
            "client": client,
            "timeline": self.client["timeline"],
            "per_stream": self.client["per_stream"],
        }


def configure_emulator(procs: Processes, shape: StreamShape) -> None:
    """Every model streams the benchmark's reply in ``chunks`` deltas, ``chunk_delay_ms`` apart
    (the ``slow`` fault with no first delay: between every two frames, so ~4.3 s a stream)."""
    url = procs["emulator"].url
    settings = (
        ("/_emulator/behaviour/*", {"reply": REPLY * 2, "chunks": shape.chunks}),
        ("/_emulator/faults/*", {"mode": "slow", "chunk_delay_ms": shape.chunk_delay_ms}),
    )
    for path, document in settings:
        status, raw = http(
            "PUT", url + path, orjson.dumps(document), {"Content-Type": "application/json"}
        )
        if status != 200:
            raise RuntimeError(f"emulator {path}: {status} {raw!r}")


def client_spec(
    procs: Processes, target: str, streams: int, ramp_s: float, shape: StreamShape
) -> dict[str, Any]:
    """The load client's SPEC for ``target``: its URL, request and what a chunk looks like."""
    if target == "direct":
        request = direct_request(procs["emulator"].url, False, True, PROMPT)
        kind = "frames"
    else:  # the floor, the gateway, or a gateway build of another revision ("gateway@REV")
        request = proxy_request(procs[target].url, target != "floor", True, PROMPT)
        kind = "sse"
    return {
        "url": request.url,
        "headers": request.headers,
        "body": request.body.decode(),
        "kind": kind,
        "streams": streams,
        "ramp_s": ramp_s,
        "expected_chunks": shape.chunks,
        "first_token_timeout_s": shape.first_token_timeout_s,
        "total_timeout_s": shape.total_timeout_s,
    }


class RssSampler(threading.Thread):
    """``[monotonic, VmRSS KiB]`` of one process every 20 ms until stopped."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.samples: list[list[float]] = []
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            try:
                kib = procstat.memory(self.pid).rss_kb
            except OSError:
                return
            self.samples.append([time.monotonic(), float(kib)])
            self.halt.wait(RSS_SAMPLE_S)


def measured_process(target: str) -> str:
    return "emulator" if target == "direct" else target


def run_client(procs: Processes, workdir: Path, spec: dict[str, Any], tag: str) -> dict[str, Any]:
    """The load client as a child process on the load CPUs; its OUT document."""
    spec_path, out_path = workdir / f"spec-{tag}.json", workdir / f"out-{tag}.json"
    spec_path.write_text(json.dumps(spec))
    cpus = procs.pinning.load_cpus

    def pin() -> None:
        if cpus:
            os.sched_setaffinity(0, cpus)

    command = [sys.executable, "-m", "bench_lib.stream_client", str(spec_path), str(out_path)]
    done = subprocess.run(
        command, cwd=LOAD, preexec_fn=pin, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"stream client failed ({done.returncode}):\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out_path.read_text())
    return result


def measure(
    procs: Processes, workdir: Path, target: str, streams: int, ramp_s: float, shape: StreamShape
) -> StreamRun:
    """One client run of ``streams`` streams against ``target``, with CPU and RSS readings."""
    proc = procs[measured_process(target)]
    emulator = procs["emulator"]
    spec = client_spec(procs, target, streams, ramp_s, shape)
    idle = procstat.memory(proc.pid).rss_kb
    sampler = RssSampler(proc.pid)
    cpu0, emu0 = procstat.cpu_seconds(proc.pid), procstat.cpu_seconds(emulator.pid)
    sampler.start()
    try:
        client = run_client(procs, workdir, spec, f"{target}-{streams}-{time.monotonic_ns()}")
    finally:
        sampler.halt.set()
        sampler.join()
    cpu1, emu1 = procstat.cpu_seconds(proc.pid), procstat.cpu_seconds(emulator.pid)
    return StreamRun(
        target=target,
        streams=streams,
        ramp_s=ramp_s,
        client=client,
        cpu_s=cpu1 - cpu0,
        emulator_cpu_s=emu1 - emu0,
        idle_rss_kb=idle,
        hwm_kb=procstat.memory(proc.pid).hwm_kb,
        rss=sampler.samples,
    )
