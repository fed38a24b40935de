"""API: ``GET /ui`` — a small read-only page served by the gateway itself: routes and their
candidates, each model's health, latency estimate and circuit, recent routing decisions, and the
shadow comparison as a table with a latency/cost chart.

Server-rendered HTML (every value through ``html.escape``), inline CSS, an inline SVG chart and
a few lines of inline script; nothing is fetched from anywhere (the Content-Security-Policy says
so). Access: the admin key, through the sign-in form's cookie or as a bearer token
(``gateway.api.ui_auth``); never in the URL. A routing decision shows the chosen model and why,
its fallbacks and exclusions folded under a ``<details>`` (nineteen fallbacks are a wall of text).
"""

from __future__ import annotations

import html
import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from gateway.api.deps import get_state
from gateway.api.shadow import shadow_report
from gateway.api.ui_auth import login, refusal, signed_in
from gateway.routing.policy import Policy, Route, feature_names
from gateway.service.state import GatewayState
from gateway.shadow.chart import ChartPoint, scatter_svg
from gateway.shadow.report import iter_pairs

router = APIRouter()
CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#1d2733;background:#fafbfc}
h1{font-size:1.3rem;margin:0 0 .2rem}h2{font-size:1.05rem;margin:1.6rem 0 .5rem}
table{border-collapse:collapse;background:#fff;font-size:13px}
th,td{border:1px solid #d8dee4;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#eef1f4}td.n{text-align:right;font-variant-numeric:tabular-nums}
.muted{color:#6a737d}.ok{color:#1a7f37}.bad{color:#cf222e}.warn{color:#9a6700}
tr.hl td{background:#fff8c5}svg{background:#fff;border:1px solid #d8dee4}
g.legend.hl text{font-weight:600}details summary{cursor:pointer;color:#0969da}
details ol{margin:.3rem 0 0;padding-left:1.2rem}
"""
SCRIPT = """
document.querySelectorAll('[data-pair]').forEach(function (el) {
  el.addEventListener('mouseenter', function () { mark(el.dataset.pair, true); });
  el.addEventListener('mouseleave', function () { mark(el.dataset.pair, false); });
});
function mark(pair, on) {
  document.querySelectorAll('[data-pair="' + pair + '"]').forEach(function (x) {
    x.classList.toggle('hl', on);
    if (x.tagName === 'circle') { x.setAttribute('r', on ? 8 : 5); }
  });
}
var box = document.getElementById('refresh');
box.checked = location.hash === '#live';
box.addEventListener('change', function () { location.hash = box.checked ? 'live' : ''; });
setInterval(function () { if (box.checked) { location.reload(); } }, 5000);
"""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _num(value: float | None, fmt: str = ".1f") -> str:
    return "-" if value is None else format(value, fmt)


def _table(head: Sequence[str], rows: Iterable[str], empty: str) -> str:
    body = "".join(rows) or f'<tr><td colspan="{len(head)}" class="muted">{_e(empty)}</td></tr>'
    cells = "".join(f"<th>{_e(h)}</th>" for h in head)
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>"


def _route_rows(policy: Policy) -> Iterable[str]:
    for route in policy.routes.values():
        pool = ", ".join(f"{m.name} (tier {m.safety_tier})" for m in route.pool)
        excluded = "; ".join(f"{m.name}: {why}" for m, why in route.static_excluded)
        needs = [f"tier ≥ {route.require_tier}"] if route.require_tier > 1 else []
        needs += feature_names(route.require_mask)
        yield (
            f'<tr data-route="{_e(route.name)}"><td>{_e(route.name)}</td>'
            f"<td>{_e(route.strategy)}</td><td>{_e(pool)}</td>"
            f'<td class="muted">{_e(excluded or "-")}</td><td>{_e(", ".join(needs) or "-")}</td>'
            f"<td>{_e(_shadow_summary(route))}</td></tr>"
        )


def _shadow_summary(route: Route) -> str:
    spec = route.shadow
    if spec is None:
        return "-"
    budget = "no cap" if spec.budget_usd_per_day is None else f"${spec.budget_usd_per_day:g}/day"
    models = ", ".join(m.name for m in spec.models)
    return f"{models} · {spec.share:.0%} · ≤{spec.max_in_flight} in flight · {budget}"


def _model_rows(
    policy: Policy, snapshot: Mapping[str, Mapping[str, Any]], benches: Mapping[str, str]
) -> Iterable[str]:
    for model in policy.models.values():
        seen = snapshot.get(model.name, {})
        circuit = str(seen.get("state", "closed"))
        css = {"closed": "ok", "open": "bad"}.get(circuit, "warn")
        if model.unusable:
            circuit, css = model.unusable, "bad"
        elif model.name in benches:
            circuit, css = benches[model.name], "bad"
        total, ttft = seen.get("total_ms"), seen.get("ttft_ms")
        estimate = f"{total:.0f} ms observed" if total is not None else "no observation"
        if total is None and model.expected_latency_ms is not None:
            estimate = f"{model.expected_latency_ms:.0f} ms prior"
        yield (
            f"<tr><td>{_e(model.name)}</td><td>{_e(model.bedrock_id)}</td>"
            f"<td>{_e(model.kind)}</td><td class=n>{model.safety_tier}</td>"
            f"<td class=n>{model.input_per_mtok:g} / {model.output_per_mtok:g}</td>"
            f'<td class="{css}">{_e(circuit)}</td><td>{_e(estimate)}</td>'
            f"<td class=n>{_num(ttft, '.0f')}</td>"
            f"<td class=n>{int(seen.get('successes', 0))} / {int(seen.get('failures', 0))}</td>"
            "</tr>"
        )


def _bench_notes(state: GatewayState) -> dict[str, str]:
    """Model -> why it is benched (model-level refusals, discovery), for the status column."""
    return {entry.model: entry.describe() for entry in state.stats.bench.active()}


def _details(fallbacks: list[str], excluded: list[str]) -> str:
    """The decision's other candidates and exclusions, folded (opened on demand)."""
    if not fallbacks and not excluded:
        return '<span class="muted">-</span>'
    summary = f"{len(fallbacks)} fallback{'s' * (len(fallbacks) != 1)}"
    summary += f", {len(excluded)} excluded" if excluded else ""
    items = "".join(f"<li>{_e(f)}</li>" for f in fallbacks)
    gone = "".join(f'<li class="muted">excluded {_e(x)}</li>' for x in excluded)
    return f"<details><summary>{_e(summary)}</summary><ol>{items}{gone}</ol></details>"


def _decision_rows(state: GatewayState) -> Iterable[str]:
    recent = list(getattr(state, "recent_decisions", ()))
    for stamp, decision in reversed(recent):
        chosen = decision.candidates[0]
        others = [f"{c.model.name}: {c.reason}" for c in decision.candidates[1:]]
        excluded = [f"{name}: {why}" for name, why in decision.excluded]
        when = time.strftime("%H:%M:%S", time.localtime(stamp))
        yield (
            f"<tr><td>{_e(when)}</td><td>{_e(decision.tenant)}</td><td>{_e(decision.route)}</td>"
            f'<td class="chosen">{_e(chosen.model.name)}</td><td>{_e(chosen.reason)}</td>'
            f"<td>{_details(others, excluded)}</td></tr>"
        )


def _rate(value: Mapping[str, Any] | None) -> str:
    return "-" if value is None else f"{value['rate'] * 100:.0f}% of {value['n']}"


def _mean(value: Mapping[str, Any] | None, fmt: str = ".2f") -> str:
    return "-" if value is None else format(value["mean"], fmt)


def _shadow_rows(report: Mapping[str, Any]) -> Iterable[str]:
    for key, pair in iter_pairs(report):
        lat, ttft, agree = pair["latency_ms"] or {}, pair["ttft_ms"] or {}, pair["agreement"]
        errors = ", ".join(f"{k} {v}" for k, v in pair["errors"].items()) or "0"
        plat = pair["primary"]["latency_ms"] or {}
        yield (
            f'<tr data-pair="{_e(key.encode())}"><td>{_e(key.route)}</td><td>{_e(key.primary)}'
            f"</td><td>{_e(key.shadow)}</td><td class=n>{pair['calls']}</td><td>{_e(errors)}</td>"
            f"<td class=n>{_num(lat.get('p50'))} / {_num(lat.get('p95'))}</td>"
            f"<td class=n>{_num(plat.get('p50'))}</td><td class=n>{_num(ttft.get('p50'))}</td>"
            f"<td class=n>{_num(pair['cost_usd']['mean'], '.8f')}</td>"
            f"<td class=n>{_num(pair['projected_monthly_usd'], ',.2f')}</td>"
            f"<td class=n>{_num(pair['primary']['projected_monthly_usd'], ',.2f')}</td>"
            f"<td>{_rate(agree['exact'])}</td><td>{_rate(agree['tool_calls'])}</td>"
            f"<td>{_rate(agree['json_valid'])}</td><td class=n>{_mean(agree['length_ratio'])}</td>"
            f"<td class=n>{_mean(agree['cosine'], '.3f')}</td></tr>"
        )


def _points(report: Mapping[str, Any]) -> list[ChartPoint]:
    """Every answered shadow pair: mean cost per call against p50 latency."""
    out = []
    for key, pair in iter_pairs(report):
        cost, latency = pair["cost_usd"]["mean"], (pair["latency_ms"] or {}).get("p50")
        if cost is not None and latency is not None:
            label = f"{key.shadow} vs {key.primary} ({key.route})"
            out.append(ChartPoint(key.encode(), label, cost, latency))
    return out


def chart(report: Mapping[str, Any]) -> str:
    """The latency/cost scatter (``gateway.shadow.chart``), or a note when nothing answered."""
    return scatter_svg(_points(report)) or (
        '<p class="muted" id="chart-empty">No shadow calls answered yet.</p>'
    )


def _sections(state: GatewayState, report: Mapping[str, Any]) -> tuple[str, str, str, str]:
    policy = state.policy
    routes = _table(
        ["route", "strategy", "candidates", "excluded by the route", "requires", "shadow"],
        _route_rows(policy),
        "no routes",
    )
    models = _table(
        [
            "model",
            "bedrock id",
            "kind",
            "tier",
            "$ in / out per Mtok",
            "status",
            "latency estimate",
            "ttft ms",
            "ok / failed",
        ],
        _model_rows(policy, state.stats.snapshot(), _bench_notes(state)),
        "no models",
    )
    decisions = _table(
        ["time", "tenant", "route", "model", "why", "details"],
        _decision_rows(state),
        "no request routed yet",
    )
    shadow = _table(
        [
            "route",
            "primary",
            "shadow",
            "calls",
            "errors",
            "p50 / p95 ms",
            "primary p50",
            "ttft p50",
            "USD/call",
            "USD/month if switched",
            "USD/month now",
            "exact",
            "tool calls",
            "valid JSON",
            "length ratio",
            "cosine",
        ],
        _shadow_rows(report),
        "no shadow comparison yet",
    )
    return routes, models, decisions, shadow


def render_page(state: GatewayState, report: Mapping[str, Any], nonce: str) -> str:
    routes, models, decisions, shadow = _sections(state, report)
    store = f"{report.get('store', 'off')}{' (degraded)' if report.get('degraded') else ''}"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Bedrock gateway</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">
<style nonce="{nonce}">{CSS}</style></head><body>
<h1>Bedrock gateway</h1>
<p class="muted">policy {_e(state.policy_source)} · shadow store {_e(store)} ·
generated {_e(time.strftime("%Y-%m-%d %H:%M:%S"))} ·
<label><input type="checkbox" id="refresh"> refresh every 5 s</label></p>
<h2>Routes</h2><div id="routes">{routes}</div>
<h2>Models</h2><div id="models">{models}</div>
<h2>Recent routing decisions</h2><div id="decisions">{decisions}</div>
<h2>Shadow comparison</h2><div id="shadow">{shadow}</div>
<h2>Latency against cost</h2><div id="chart">{chart(report)}</div>
<script nonce="{nonce}">{SCRIPT}</script>
</body></html>"""


@router.post("/ui/login", include_in_schema=False)
async def ui_login(request: Request) -> Response:
    return await login(request, get_state(request))


@router.get("/ui", include_in_schema=False)
async def ui(request: Request) -> Response:
    state = get_state(request)
    if not signed_in(request, state):
        return refusal(state, request)
    report = await shadow_report(state)
    nonce = secrets.token_urlsafe(16)
    csp = (
        f"default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; "
        "img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    headers = {
        "content-security-policy": csp,
        "cache-control": "no-store",
        "referrer-policy": "no-referrer",
        "x-content-type-options": "nosniff",
    }
    body = render_page(state, report, nonce)
    return Response(body, media_type="text/html; charset=utf-8", headers=headers)
