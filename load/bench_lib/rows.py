"""Rows: one measured wrk run, rounds merged into one, finding rows, relating them to others."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bench_lib.config import KB
from bench_lib.wrk import WrkResult


@dataclass
class Row:
    """One measured wrk run."""

    name: str
    target: str
    stream: bool
    connections: int
    result: WrkResult
    cpu_ms_per_req: float | None
    emulator_cpu_ms_per_req: float | None
    prompt_bytes: int
    cache: str = "off"
    cpu_s: float = 0.0
    emulator_cpu_s: float = 0.0
    rounds: int = 1
    load_average: float = 0.0
    hwm_mb: float = 0.0  # the measured process's peak RSS (VmHWM) at the end of the run
    added_p50_ms: float | None = None
    added_p99_ms: float | None = None
    floor_cpu_ratio: float | None = None
    floor_rps_ratio: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "target": self.target,
            "stream": self.stream,
            "connections": self.connections,
            "prompt_bytes": self.prompt_bytes,
            "cache": self.cache,
            "rounds": self.rounds,
            "load_average_1m": self.load_average,
            "hwm_mb": self.hwm_mb,
            "rps": self.result.rps,
            "p50_ms": self.result.p("p50"),
            "p90_ms": self.result.p("p90"),
            "p99_ms": self.result.p("p99"),
            "added_p50_ms": self.added_p50_ms,
            "added_p99_ms": self.added_p99_ms,
            "cpu_ms_per_req": self.cpu_ms_per_req,
            "emulator_cpu_ms_per_req": self.emulator_cpu_ms_per_req,
            "floor_cpu_ratio": self.floor_cpu_ratio,
            "floor_rps_ratio": self.floor_rps_ratio,
            "wrk": self.result.to_json(),
            **self.extra,
        }


def row_name(
    target: str, stream: bool, connections: int, prompt_bytes: int | None, cache: str
) -> str:
    """``gateway plain c16``; `` 10KB`` for a prompt size, `` cache-hit`` for a cache row."""
    mode = "stream" if stream else "plain"
    name = f"{target} {mode} c{connections}"
    if prompt_bytes is not None:
        name += f" {prompt_bytes // KB}KB"
    if cache != "off":
        name += f" cache-{cache}"
    return name


def merge_results(results: Sequence[WrkResult]) -> WrkResult:
    """Counts summed, req/s and latency percentiles the median."""
    return WrkResult(
        requests=sum(r.requests for r in results),
        duration_s=sum(r.duration_s for r in results),
        bytes_read=sum(r.bytes_read for r in results),
        rps=statistics.median(r.rps for r in results),
        non_2xx=sum(r.non_2xx for r in results),
        connect_errors=sum(r.connect_errors for r in results),
        read_errors=sum(r.read_errors for r in results),
        write_errors=sum(r.write_errors for r in results),
        timeouts=sum(r.timeouts for r in results),
        bad_bodies=sum(r.bad_bodies for r in results),
        cache_hits=sum(r.cache_hits for r in results),
        cache_misses=sum(r.cache_misses for r in results),
        latency_us={
            key: statistics.median(r.latency_us[key] for r in results)
            for key in results[0].latency_us
        },
    )


def merge_rows(runs: list[Row]) -> Row:
    """Rounds of one row as one: counts and CPU summed, req/s and percentiles the median."""
    if len(runs) == 1:
        return runs[0]
    first = runs[0]
    merged = merge_results([r.result for r in runs])
    requests = merged.requests
    cpu = sum(r.cpu_s for r in runs)
    emulator_cpu = sum(r.emulator_cpu_s for r in runs)
    return Row(
        name=first.name,
        target=first.target,
        stream=first.stream,
        connections=first.connections,
        result=merged,
        cpu_ms_per_req=cpu * 1000 / requests if requests else None,
        emulator_cpu_ms_per_req=emulator_cpu * 1000 / requests if requests else None,
        prompt_bytes=first.prompt_bytes,
        cache=first.cache,
        cpu_s=cpu,
        emulator_cpu_s=emulator_cpu,
        rounds=len(runs),
        load_average=max(r.load_average for r in runs),
        hwm_mb=max(r.hwm_mb for r in runs),
        extra={
            "rounds_rps": [r.result.rps for r in runs],
            "rounds_p50_ms": [r.result.p("p50") for r in runs],
        },
    )


def find(
    rows: Sequence[Row], target: str, stream: bool, connections: int, **match: Any
) -> Row | None:
    """The first row of ``target``/``stream``/``connections`` with that ``prompt_bytes``
    (None: the short prompt) and ``cache`` (default ``"off"``)."""
    for row in rows:
        if (row.target, row.stream, row.connections) != (target, stream, connections):
            continue
        size = match.get("prompt_bytes")
        if size is None and row.name.endswith("KB"):
            continue
        if size is not None and not row.name.endswith(f" {size // KB}KB"):
            continue
        if row.cache != match.get("cache", "off"):
            continue
        return row
    return None


def relate(rows: Sequence[Row]) -> None:
    """Added latency against the proxy's own upstream request, ratios against the floor."""
    for row in rows:
        size = None
        if row.name.endswith("KB"):
            size = int(row.name.rsplit(" ", 1)[1][:-2]) * KB
        if row.target in ("floor", "gateway") and row.connections == 1:
            upstream = "direct" if row.target == "gateway" else "direct-bearer"
            base = find(rows, upstream, row.stream, 1, prompt_bytes=size)
            if base is not None:
                for pct in ("p50", "p99"):
                    mine, theirs = row.result.p(pct), base.result.p(pct)
                    if mine is not None and theirs is not None:
                        setattr(row, f"added_{pct}_ms", mine - theirs)
        floor = find(rows, "floor", row.stream, row.connections, prompt_bytes=size)
        if floor is None or floor is row:
            continue
        if row.cpu_ms_per_req is not None and floor.cpu_ms_per_req:
            row.floor_cpu_ratio = row.cpu_ms_per_req / floor.cpu_ms_per_req
        if floor.result.rps:
            row.floor_rps_ratio = row.result.rps / floor.result.rps
