"""Reports: the rows, budgets and profile tables as text (fixed-width columns)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench_lib.rows import Row


@dataclass
class Budget:
    """One budget: measured against a target (``lower`` is better unless ``higher_is_better``)."""

    name: str
    measured: float | None
    target: float
    unit: str
    floor_ratio: float | None = None
    note: str = ""

    @property
    def verdict(self) -> str:
        if self.measured is None:
            return "N/A"
        return "PASS" if self.measured <= self.target else "OVER"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "measured": self.measured,
            "target": self.target,
            "unit": self.unit,
            "measured_over_target": (
                None if self.measured is None or not self.target else self.measured / self.target
            ),
            "ratio_to_floor": self.floor_ratio,
            "verdict": self.verdict,
            "note": self.note,
        }


def fmt(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}"


def fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned first column, right-aligned others, a rule under the header."""
    widths = [len(h) for h in headers]
    for row in rows:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], len(cell))

    def line(cells: Sequence[str]) -> str:
        parts = [
            cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])
            for i, cell in enumerate(cells)
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def budgets_table(budgets: Sequence[Budget]) -> str:
    rows = []
    for budget in budgets:
        over = (
            None
            if budget.measured is None or not budget.target
            else budget.measured / budget.target
        )
        rows.append(
            [
                budget.name,
                f"{fmt(budget.measured)} {budget.unit}",
                f"{fmt(budget.target)} {budget.unit}",
                fmt_ratio(over),
                fmt_ratio(budget.floor_ratio),
                budget.verdict,
                budget.note,
            ]
        )
    headers = ["budget", "measured", "target", "meas/target", "vs floor", "verdict", "note"]
    return table(headers, rows)


ROW_HEADERS = [
    "row",
    "req/s",
    "p50 ms",
    "p99 ms",
    "added p50",
    "added p99",
    "CPU ms/req",
    "CPU x floor",
    "req/s x floor",
    "emu CPU ms/req",
    "errors",
]


def rows_table(rows: Sequence[Row]) -> str:
    lines = []
    for row in rows:
        r = row.result
        lines.append(
            [
                row.name,
                f"{r.rps:.0f}",
                fmt(r.p("p50")),
                fmt(r.p("p99")),
                fmt(row.added_p50_ms),
                fmt(row.added_p99_ms),
                fmt(row.cpu_ms_per_req),
                fmt_ratio(row.floor_cpu_ratio),
                fmt_ratio(row.floor_rps_ratio),
                fmt(row.emulator_cpu_ms_per_req),
                str(r.errors),
            ]
        )
    return table(ROW_HEADERS, lines)


def profile_text(profile: dict[str, Any]) -> str:
    parts = []
    for kind, data in profile.items():
        parts.append(f"profile {kind}: {data.get('tool')}")
        if "error" in data:
            parts.append(f"  failed: {data['error']}")
            continue
        if "samples" in data:
            parts.append(f"  {data['samples']} samples")
        rows = [[e["name"], f"{e['share'] * 100:.1f}%"] for e in data.get("top_own", [])]
        parts.append(table(["top functions by own time", "share"], rows))
        for key, title in (
            ("categories_own", "own time by area"),
            ("categories_inclusive", "inclusive time by area"),
        ):
            if key in data:
                rows = [[e["name"], f"{e['share'] * 100:.1f}%"] for e in data[key]]
                parts.append(table([title, "share"], rows))
        parts.append("")
    return "\n".join(parts)
