"""Reports: the rows table and the budgets table as text (fixed-width columns)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


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
