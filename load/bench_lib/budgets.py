"""Budgets: gateway CPU per request, added p50, peak RSS, errors, cache hit against miss CPU."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bench_lib.report import Budget, fmt
from bench_lib.rows import Row, find

BUDGET_CPU_PLAIN_MS = 0.25
BUDGET_CPU_STREAM_MS = 0.5
BUDGET_P50_ADDED_MS = 0.45
BUDGET_RSS_MB = 80.0


def budgets(rows: Sequence[Row], memory: dict[str, Any]) -> list[Budget]:
    return [
        *cpu_budgets(rows),
        latency_budget(rows),
        rss_budget(memory),
        errors_budget(rows),
        *cache_budgets(rows),
        *responses_budgets(rows),
    ]


def cpu_budgets(rows: Sequence[Row]) -> list[Budget]:
    return _cpu(
        rows,
        "gateway",
        (
            (False, BUDGET_CPU_PLAIN_MS, "gateway CPU / plain request (c=16)"),
            (True, BUDGET_CPU_STREAM_MS, "gateway CPU / streamed request, 8 chunks (c=16)"),
        ),
    )


def responses_budgets(rows: Sequence[Row]) -> list[Budget]:
    """``/v1/responses`` is held to the chat budgets (one pipeline, another presentation)."""
    return _cpu(
        rows,
        "responses",
        (
            (False, BUDGET_CPU_PLAIN_MS, "gateway CPU / plain /v1/responses (c=16)"),
            (True, BUDGET_CPU_STREAM_MS, "gateway CPU / streamed /v1/responses (c=16)"),
        ),
    )


def _cpu(
    rows: Sequence[Row], endpoint: str, cases: Sequence[tuple[bool, float, str]]
) -> list[Budget]:
    budgets = []
    for stream, target, label in cases:
        row = find(rows, endpoint, stream, 16)
        budgets.append(
            Budget(
                label,
                row.cpu_ms_per_req if row else None,
                target,
                "ms",
                row.floor_cpu_ratio if row else None,
            )
        )
    return budgets


def latency_budget(rows: Sequence[Row]) -> Budget:
    gateway, floor = find(rows, "gateway", False, 1), find(rows, "floor", False, 1)
    note = ""
    if gateway is not None:
        note = f"absolute p50 {fmt(gateway.result.p('p50'))} ms"
    return Budget(
        "added p50 latency, plain, c=1",
        gateway.added_p50_ms if gateway else None,
        BUDGET_P50_ADDED_MS,
        "ms",
        (
            gateway.added_p50_ms / floor.added_p50_ms
            if gateway and floor and gateway.added_p50_ms and floor.added_p50_ms
            else None
        ),
        note,
    )


def rss_budget(memory: dict[str, Any]) -> Budget:
    gw_mem, floor_mem = memory.get("gateway"), memory.get("floor")
    return Budget(
        f"peak RSS after {memory.get('gateway_requests_before', 0)} requests",
        gw_mem["hwm_mb"] if gw_mem else None,
        BUDGET_RSS_MB,
        "MB",
        gw_mem["hwm_mb"] / floor_mem["hwm_mb"] if gw_mem and floor_mem else None,
        (
            f"RSS now {gw_mem['rss_mb']:.1f} MB; at end "
            f"({memory.get('gateway_requests_end')} req, 200 KB prompts "
            f"and cache included): {memory['gateway_end']['hwm_mb']:.1f} MB"
            if gw_mem and "gateway_end" in memory
            else ""
        ),
    )


def errors_budget(rows: Sequence[Row]) -> Budget:
    gateway_rows = [r for r in rows if r.target == "gateway"]
    errors = sum(r.result.errors for r in gateway_rows)
    top = max((r.connections for r in gateway_rows), default=0)
    floor_errors = sum(r.result.errors for r in rows if r.target == "floor")
    return Budget(
        f"gateway errors, every row up to c={top}",
        float(errors),
        0.0,
        "",
        None,
        f"floor errors: {floor_errors}",
    )


def cache_budgets(rows: Sequence[Row]) -> list[Budget]:
    budgets = []
    for stream in (False, True):
        hit = find(rows, "gateway", stream, 16, cache="hit")
        miss = find(rows, "gateway", stream, 16, cache="miss")
        bypass = find(rows, "gateway", stream, 16)
        kind = "stream" if stream else "plain"
        ratio = (
            hit.cpu_ms_per_req / miss.cpu_ms_per_req
            if hit and miss and hit.cpu_ms_per_req and miss.cpu_ms_per_req
            else None
        )
        note = ""
        if hit and miss and bypass:
            note = (
                f"miss {fmt(miss.cpu_ms_per_req)} ms, bypass {fmt(bypass.cpu_ms_per_req)} ms; "
                f"hits seen {hit.result.cache_hits}/{hit.result.requests}"
            )
        budgets.append(
            Budget(f"cache hit CPU / miss CPU, {kind} (c=16)", ratio, 1.0, "", None, note)
        )
    return budgets
