"""Long-lived streams: the table of runs, and the issue's goals with verdicts."""

from __future__ import annotations

from collections.abc import Sequence

from bench_lib.report import Budget, fmt, fmt_ratio, table
from bench_lib.stream_runs import StreamRun

#: The issue's goals at 1,000 streams (and 4,000: no errors, ~25 us of CPU per chunk).
TTFT_P99_SLACK_MS = 1000.0
GAP_P99_SLACK_MS = 20.0
CPU_RATIO = 1.3
RSS_KB_PER_STREAM = 32.0
CPU_US_PER_CHUNK = 25.0
CLIENT_LAG_P99_MS = 10.0

HEADERS = [
    "target",
    "streams",
    "ok",
    "errors",
    "peak open",
    "peak flowing",
    "TTFT p50 ms",
    "TTFT p99 ms",
    "gap p50 ms",
    "gap p99 ms",
    "gap max ms",
    "CPU ms/stream",
    "CPU us/chunk",
    "CPU x floor",
    "idle RSS MB",
    "RSS at peak MB",
    "KB/open stream",
    "client lag p99 ms",
]


def runs_table(runs: Sequence[StreamRun]) -> str:
    floors = {r.streams: r for r in runs if r.target == "floor"}
    lines = []
    for run in runs:
        s = run.summary
        peak_open, flowing = run.peaks()
        at_peak, per_stream = run.rss_per_stream_kb()
        floor = floors.get(run.streams)
        ratio = run.cpu_ms_per_stream / floor.cpu_ms_per_stream if floor else None
        lines.append(
            [
                run.target,
                str(run.streams),
                str(s["ok"]),
                str(s["errors"]),
                str(peak_open),
                str(flowing),
                fmt(s["ttft_ms"]["p50"], 0),
                fmt(s["ttft_ms"]["p99"], 0),
                fmt(s["gap_ms"]["p50"], 1),
                fmt(s["gap_ms"]["p99"], 1),
                fmt(s["gap_ms"]["max"], 0),
                fmt(run.cpu_ms_per_stream, 2),
                fmt(run.cpu_us_per_chunk, 1),
                fmt_ratio(ratio if run.target.startswith("gateway") else None),
                fmt(run.idle_rss_kb / 1024, 1),
                fmt(None if at_peak is None else at_peak / 1024, 1),
                fmt(per_stream, 1),
                fmt(run.client["loop_lag_ms"]["p99"], 1),
            ]
        )
    return table(HEADERS, lines)


def outcomes_text(runs: Sequence[StreamRun]) -> str:
    """What went wrong, per run that had errors (and a sample answer of each status)."""
    lines = []
    for run in runs:
        if run.errors:
            lines.append(f"{run.target} x{run.streams}: {run.summary['outcomes']}")
            for outcome, sample in run.client.get("samples", {}).items():
                lines.append(f"  {outcome}: {sample[:300]!r}")
    return "\n".join(lines)


def goals(gateway: StreamRun, floor: StreamRun | None) -> list[Budget]:
    """The issue's goals for one gateway run, against the floor run of the same round."""
    g = gateway.summary
    _, flowing = gateway.peaks()
    _, per_stream = gateway.rss_per_stream_kb()
    found = [
        Budget("streams without a complete answer", float(g["errors"]), 0.0, "streams"),
        Budget(
            "streams not flowing at the peak",
            float(gateway.streams - flowing),
            0.0,
            "streams",
            note=f"{flowing} of {gateway.streams} had tokens flowing at once",
        ),
        Budget(
            "RSS per open stream",
            per_stream,
            RSS_KB_PER_STREAM,
            "KB",
            note="" if gateway.first else "judged on the process's first run only",
        ),
        Budget(
            "CPU per chunk (whole process / chunks)",
            gateway.cpu_us_per_chunk,
            CPU_US_PER_CHUNK,
            "us",
            note="the issue's figure for 4,000 streams on one core",
        ),
    ]
    if floor is not None:
        found[2:2] = _against_floor(gateway, floor)
    return found


def _against_floor(gateway: StreamRun, floor: StreamRun) -> list[Budget]:
    g, f = gateway.summary, floor.summary
    ttft_g, ttft_f = g["ttft_ms"]["p99"], f["ttft_ms"]["p99"]
    gap_g, gap_f = g["gap_ms"]["p99"], f["gap_ms"]["p99"]
    cpu_ratio = gateway.cpu_ms_per_stream / floor.cpu_ms_per_stream
    return [
        Budget(
            "TTFT p99",
            ttft_g,
            ttft_f + TTFT_P99_SLACK_MS if ttft_f is not None else float("nan"),
            "ms",
            note=f"floor p99 {fmt(ttft_f, 0)} ms + 1 s",
        ),
        Budget(
            "gap between chunks p99",
            gap_g,
            gap_f + GAP_P99_SLACK_MS if gap_f is not None else float("nan"),
            "ms",
            note=f"floor p99 {fmt(gap_f, 1)} ms + 20 ms",
        ),
        Budget(
            "CPU per stream",
            gateway.cpu_ms_per_stream,
            floor.cpu_ms_per_stream * CPU_RATIO,
            "ms",
            floor_ratio=cpu_ratio,
            note=f"floor {floor.cpu_ms_per_stream:.2f} ms x 1.3",
        ),
    ]


def client_checks(runs: Sequence[StreamRun]) -> list[Budget]:
    """The load client is not the bottleneck: its own event loop stayed on time."""
    return [
        Budget(
            f"client loop lag p99 ({run.target} x{run.streams})",
            run.client["loop_lag_ms"]["p99"],
            CLIENT_LAG_P99_MS,
            "ms",
            note=f"client CPU {run.client['client_cpu_s']:.1f} s",
        )
        for run in runs
    ]
