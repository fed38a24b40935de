"""CLI: how ``gateway compare`` shows its result — an aligned text table, or one self-contained
HTML page (``--html FILE``: inline CSS and SVG, no script, nothing fetched) with the table and
the latency/cost chart of ``/ui``."""

from __future__ import annotations

import html
import time
from typing import Any

from gateway.shadow.chart import ChartPoint, scatter_svg

HEAD = [
    "model",
    "calls",
    "errors",
    "p50 ms",
    "p95 ms",
    "ttft p50",
    "tokens in/out",
    "cost USD",
    "USD/call",
    "exact",
    "tool calls",
    "valid JSON",
    "length ratio",
]
CSS = """body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#1d2733}
table{border-collapse:collapse;font-size:13px}th,td{border:1px solid #d8dee4;padding:.25rem .5rem}
th{background:#eef1f4;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
.muted{color:#6a737d}svg{border:1px solid #d8dee4;margin-top:1rem}"""


def _pct(rate: dict[str, Any] | None) -> str:
    return "-" if rate is None else f"{rate['rate'] * 100:.0f}% ({rate['n']})"


def _num(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def rows(result: dict[str, Any]) -> list[list[str]]:
    """One row of cells per model, the reference first (its agreement cells say "ref")."""
    out = []
    for name, pair in result["models"].items():
        latency, ttft = pair["latency_ms"] or {}, pair["ttft_ms"] or {}
        agreement = pair["agreement"]
        is_ref = name == result["reference"]
        ref_or = (lambda cell: "ref") if is_ref else (lambda cell: cell)
        out.append(
            [
                name + (" (reference)" if is_ref else ""),
                str(pair["calls"]),
                ", ".join(f"{k} {v}" for k, v in pair["errors"].items()) or "0",
                _num(latency.get("p50"), ".1f"),
                _num(latency.get("p95"), ".1f"),
                _num(ttft.get("p50"), ".1f"),
                f"{pair['tokens']['input']}/{pair['tokens']['output']}",
                f"{pair['cost_usd']['total']:.6f}",
                _num(pair["cost_usd"]["mean"], ".8f"),
                ref_or(_pct(agreement["exact"])),
                ref_or(_pct(agreement["tool_calls"])),
                _pct(agreement["json_valid"]),  # the model's own answers: the reference's too
                ref_or(_num((agreement["length_ratio"] or {}).get("mean"), ".2f")),
            ]
        )
    return out


def title(result: dict[str, Any]) -> str:
    return f"{result['requests']} requests, reference {result['reference']}"


def table(result: dict[str, Any]) -> str:
    """The comparison as an aligned text table, one row per model (the reference first)."""
    body = [HEAD, *rows(result)]
    widths = [max(len(row[i]) for row in body) for i in range(len(HEAD))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in body
    ]
    return "\n".join([title(result), *lines])


def points(result: dict[str, Any]) -> list[ChartPoint]:
    out = []
    for name, pair in result["models"].items():
        cost, latency = pair["cost_usd"]["mean"], (pair["latency_ms"] or {}).get("p50")
        if cost is not None and latency is not None:
            out.append(ChartPoint(name, name, cost, latency))
    return out


def html_page(result: dict[str, Any]) -> str:
    """The whole comparison as one page: title, table and chart; every value escaped."""
    e = html.escape
    head = "".join(f"<th>{e(h)}</th>" for h in HEAD)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{e(c)}</td>' if i else f"<td>{e(c)}</td>" for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows(result)
    )
    chart = scatter_svg(points(result)) or '<p class="muted">No call answered.</p>'
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>gateway compare: {e(title(result))}</title>
<style>{CSS}</style></head><body>
<h1>gateway compare</h1><p class="muted">{e(title(result))} · generated {e(stamp)}</p>
<table id="compare"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>
<h2>Latency against cost</h2>{chart}
</body></html>
"""
