"""Builds the Grafana dashboard JSON shipped in the chart: python monitoring/dashboard.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[1] / "helm/llm-gateway/files/dashboards/gateway.json"
SEL = 'job=~"$job"'
RI = "$__rate_interval"
DS = {"type": "prometheus", "uid": "${datasource}"}

Panel = dict[str, Any]


def _targets(exprs: list[tuple[str, str]]) -> list[dict[str, Any]]:
    return [
        {"datasource": DS, "expr": expr, "legendFormat": legend, "refId": chr(ord("A") + i)}
        for i, (expr, legend) in enumerate(exprs)
    ]


def timeseries(title: str, unit: str, exprs: list[tuple[str, str]], desc: str = "") -> Panel:
    return {
        "type": "timeseries",
        "title": title,
        "description": desc,
        "datasource": DS,
        "fieldConfig": {"defaults": {"unit": unit, "min": 0}, "overrides": []},
        "options": {
            "legend": {"displayMode": "table", "placement": "bottom", "calcs": ["mean", "max"]}
        },
        "targets": _targets(exprs),
    }


def stat(title: str, unit: str, expr: str, desc: str = "") -> Panel:
    return {
        "type": "stat",
        "title": title,
        "description": desc,
        "datasource": DS,
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"reduceOptions": {"calcs": ["lastNotNull"]}, "colorMode": "value"},
        "targets": _targets([(expr, title)]),
    }


def bargauge(title: str, unit: str, expr: str, legend: str, desc: str = "") -> Panel:
    return {
        "type": "bargauge",
        "title": title,
        "description": desc,
        "datasource": DS,
        "fieldConfig": {"defaults": {"unit": unit, "min": 0}, "overrides": []},
        "options": {"orientation": "horizontal", "reduceOptions": {"calcs": ["lastNotNull"]}},
        "targets": [{**t, "instant": True} for t in _targets([(expr, legend)])],
    }


def ts(title: str, unit: str, expr: str, legend: str, desc: str = "") -> Panel:
    return timeseries(title, unit, [(expr, legend)], desc)


def quantiles(
    metric: str, by: str, qs: tuple[float, ...] = (0.5, 0.95, 0.99)
) -> list[tuple[str, str]]:
    return [
        (
            f"histogram_quantile({q}, sum by (le, {by}) (rate({metric}_bucket{{{SEL}}}[{RI}])))",
            f"p{round(q * 100)} {{{{{by}}}}}",
        )
        for q in qs
    ]


def rate_by(metric: str, by: str, extra: str = "", scale: str = "") -> str:
    matchers = SEL + (f", {extra}" if extra else "")
    return f"sum by ({by}) (rate({metric}{{{matchers}}}[{RI}])){scale}"


def rows() -> list[tuple[str, list[Panel]]]:
    total = f"sum(rate(gateway_requests_total{{{SEL}}}[{RI}]))"
    return [
        (
            "Traffic",
            [
                stat("Requests per second", "reqps", total),
                stat(
                    "Error ratio (5xx)",
                    "percentunit",
                    f'sum(rate(gateway_requests_total{{{SEL}, status=~"5.."}}[{RI}])) / {total}',
                ),
                stat(
                    "Cache hit ratio",
                    "percentunit",
                    f'sum(rate(gateway_cache_requests_total{{{SEL}, result="hit"}}[{RI}]))'
                    " / "
                    f'sum(rate(gateway_cache_requests_total{{{SEL}, result=~"hit|miss"}}[{RI}]))',
                    "hits / (hits + misses); bypass and off are not cacheable lookups",
                ),
                stat("In flight", "short", f"sum(gateway_in_flight_requests{{{SEL}}})"),
                ts(
                    "Requests by route",
                    "reqps",
                    rate_by("gateway_requests_total", "route"),
                    "{{route}}",
                ),
                ts(
                    "Requests by status",
                    "reqps",
                    rate_by("gateway_requests_total", "status"),
                    "{{status}}",
                ),
                timeseries(
                    "Error ratio by route",
                    "percentunit",
                    [
                        (
                            rate_by("gateway_requests_total", "route", 'status=~"5.."')
                            + " / "
                            + rate_by("gateway_requests_total", "route"),
                            "{{route}}",
                        )
                    ],
                ),
                ts(
                    "In-flight requests",
                    "short",
                    f"sum(gateway_in_flight_requests{{{SEL}}})",
                    "in flight",
                ),
            ],
        ),
        (
            "Latency",
            [
                timeseries(
                    "Request latency by route",
                    "s",
                    quantiles("gateway_request_duration_seconds", "route"),
                ),
                timeseries(
                    "Time to first token by model",
                    "s",
                    quantiles("gateway_time_to_first_token_seconds", "model"),
                ),
                timeseries(
                    "Bedrock call latency by model",
                    "s",
                    quantiles("gateway_upstream_duration_seconds", "model", (0.5, 0.95)),
                ),
                timeseries(
                    "Routing decisions",
                    "reqps",
                    [
                        (
                            rate_by("gateway_routing_decisions_total", "route, model, strategy"),
                            "{{route}} → {{model}} ({{strategy}})",
                        )
                    ],
                ),
            ],
        ),
        (
            "Tokens and cost",
            [
                ts(
                    "Tokens per second by direction",
                    "short",
                    rate_by("gateway_tokens_total", "direction"),
                    "{{direction}}",
                ),
                ts(
                    "Tokens per second by model",
                    "short",
                    rate_by("gateway_tokens_total", "model, direction"),
                    "{{model}} {{direction}}",
                ),
                ts(
                    "Cost by route (USD per hour)",
                    "currencyUSD",
                    rate_by("gateway_cost_usd_total", "route", scale=" * 3600"),
                    "{{route}}",
                ),
                ts(
                    "Cost by tenant (USD per hour)",
                    "currencyUSD",
                    rate_by("gateway_cost_usd_total", "tenant", scale=" * 3600"),
                    "{{tenant}}",
                ),
                bargauge(
                    "Spend by tenant, last 24 h",
                    "currencyUSD",
                    f"sum by (tenant) (increase(gateway_cost_usd_total{{{SEL}}}[24h]))",
                    "{{tenant}}",
                    "A rolling 24 h window; the gateway's budgets are its own (exact) count.",
                ),
                ts(
                    "Saved by the cache (USD per hour)",
                    "currencyUSD",
                    rate_by("gateway_cache_saved_usd_total", "route", scale=" * 3600"),
                    "{{route}}",
                ),
                ts(
                    "Cache lookups by result",
                    "reqps",
                    rate_by("gateway_cache_requests_total", "result"),
                    "{{result}}",
                ),
            ],
        ),
        (
            "Reliability",
            [
                ts(
                    "Fallbacks",
                    "reqps",
                    rate_by("gateway_fallbacks_total", "route, from_model, reason"),
                    "{{route}}: {{from_model}} ({{reason}})",
                ),
                ts(
                    "Bedrock errors",
                    "reqps",
                    rate_by("gateway_upstream_errors_total", "model, error"),
                    "{{model}}: {{error}}",
                ),
                ts(
                    "Open circuits",
                    "short",
                    f"max by (model) (gateway_circuit_open{{{SEL}}})",
                    "{{model}}",
                    "1 while a model's circuit is open",
                ),
                ts(
                    "Rate-limited requests",
                    "reqps",
                    rate_by("gateway_rate_limited_total", "tenant"),
                    "{{tenant}}",
                ),
                ts(
                    "Redis errors",
                    "ops",
                    rate_by("gateway_redis_errors_total", "op"),
                    "{{op}}",
                    "the gateway fails open: no shared cache while Redis errors",
                ),
                ts(
                    "Policy reloads",
                    "short",
                    f"sum by (result) (increase(gateway_policy_reloads_total{{{SEL}}}[{RI}]))",
                    "{{result}}",
                ),
            ],
        ),
        (
            "Shadow evaluation",
            [
                bargauge(
                    "Projected monthly cost (route on each model)",
                    "currencyUSD",
                    f"max by (route, model, role) (gateway_shadow_projected_monthly_usd{{{SEL}}})",
                    "{{route}} {{model}} ({{role}})",
                    "at the route's observed traffic; role primary = today's model",
                ),
                ts(
                    "Shadow latency p50",
                    "s",
                    "histogram_quantile(0.5, sum by (le, route, shadow) "
                    f"(rate(gateway_shadow_duration_seconds_bucket{{{SEL}}}[{RI}])))",
                    "{{route}} {{shadow}}",
                ),
                ts(
                    "Shadow agreement",
                    "percentunit",
                    f"sum by (route, shadow, check) (rate(gateway_shadow_agreement_total"
                    f'{{{SEL}, result="agree"}}[{RI}])) / sum by (route, shadow, check) '
                    f"(rate(gateway_shadow_agreement_total{{{SEL}}}[{RI}]))",
                    "{{route}} {{shadow}} {{check}}",
                ),
                ts(
                    "Shadow calls dropped",
                    "ops",
                    rate_by("gateway_shadow_dropped_total", "shadow, reason"),
                    "{{shadow}} {{reason}}",
                    "dropped, never queued: max_in_flight, budget, opt-out, tenant, ineligible",
                ),
            ],
        ),
    ]


def dashboard() -> dict[str, Any]:
    panels: list[Panel] = []
    y, pid = 0, 1
    for title, group in rows():
        row_h = 0
        panels.append(
            {
                "type": "row",
                "title": title,
                "collapsed": False,
                "id": pid,
                "panels": [],
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
            }
        )
        pid, y, x = pid + 1, y + 1, 0
        for panel in group:
            w, h = (6, 4) if panel["type"] == "stat" else (12, 8)
            if x + w > 24:
                x, y = 0, y + row_h
            panel["id"], panel["gridPos"] = pid, {"h": h, "w": w, "x": x, "y": y}
            row_h = h
            pid, x = pid + 1, x + w
        y += row_h
        panels.extend(group)
    return {
        "uid": "llm-gateway",
        "title": "LLM gateway",
        "description": "OpenAI-compatible routing gateway for Amazon Bedrock",
        "tags": ["llm-gateway", "bedrock"],
        "editable": True,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "timezone": "",
        "graphTooltip": 1,
        "annotations": {"list": []},
        "links": [],
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Data source",
                    "type": "datasource",
                    "query": "prometheus",
                    "current": {},
                    "hide": 0,
                    "refresh": 1,
                },
                {
                    "name": "job",
                    "label": "Job",
                    "type": "query",
                    "datasource": DS,
                    "query": {"query": "label_values(gateway_requests_total, job)", "refId": "job"},
                    "definition": "label_values(gateway_requests_total, job)",
                    "includeAll": True,
                    "multi": True,
                    "allValue": ".*",
                    "current": {},
                    "hide": 0,
                    "refresh": 2,
                    "sort": 1,
                },
            ]
        },
        "panels": panels,
    }


def render() -> str:
    return json.dumps(dashboard(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    OUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUT}")
