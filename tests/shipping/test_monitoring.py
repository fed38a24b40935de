"""Monitoring: the Grafana dashboard and the alert rules name only metrics the gateway exports."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import helm_python
import yaml

from monitoring.dashboard import render as render_dashboard
from tests.shipping.kit import CHART, SCENARIOS, Family, find, query_problems, render

DASHBOARD = CHART / "files" / "dashboards" / "gateway.json"
ALERTS = CHART / "files" / "alerts.yaml"
# The design and the issue: what an operator must be able to see.
REQUIRED_ON_DASHBOARD = {
    "gateway_requests_total",
    "gateway_request_duration_seconds_bucket",
    "gateway_time_to_first_token_seconds_bucket",
    "gateway_upstream_duration_seconds_bucket",
    "gateway_tokens_total",
    "gateway_cost_usd_total",
    "gateway_cache_requests_total",
    "gateway_fallbacks_total",
    "gateway_upstream_errors_total",
    "gateway_circuit_open",
    "gateway_in_flight_requests",
    "gateway_redis_errors_total",
    "gateway_policy_reloads_total",
    "gateway_rate_limited_total",
}


def _panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def _dashboard_queries(dashboard: dict[str, Any]) -> list[str]:
    queries = [t["expr"] for p in _panels(dashboard) for t in p.get("targets", [])]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            queries.append(variable["query"]["query"])
    return queries


def test_dashboard_queries_name_only_exported_metrics(families: dict[str, Family]) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    queries = _dashboard_queries(dashboard)
    assert len(queries) > 25
    assert [problem for q in queries for problem in query_problems(q, families)] == []
    used = " ".join(queries)
    assert [name for name in sorted(REQUIRED_ON_DASHBOARD) if name not in used] == []
    assert "histogram_quantile(0.95, sum by (le, route) (rate(gateway_request_duration" in used


def test_dashboard_is_well_formed_and_up_to_date() -> None:
    text = DASHBOARD.read_text()
    assert text == render_dashboard(), "run: .venv/bin/python monitoring/dashboard.py"
    dashboard = json.loads(text)
    assert dashboard["uid"] == "llm-gateway" and dashboard["title"]
    ids = [p["id"] for p in _panels(dashboard)]
    assert len(ids) == len(set(ids))
    for panel in _panels(dashboard):
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24 and grid["h"] > 0
        for target in panel.get("targets", []):
            assert target["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            assert target["refId"] and "$job" in target["expr"]
    names = {v["name"] for v in dashboard["templating"]["list"]}
    assert names == {"datasource", "job"}


def _rules(groups: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {rule["alert"]: rule for group in groups for rule in group["rules"]}


def test_alert_rules_name_only_exported_metrics(families: dict[str, Family]) -> None:
    rules = _rules(yaml.safe_load(ALERTS.read_text())["groups"])
    assert set(rules) == {
        "LLMGatewayHighErrorRatio",
        "LLMGatewayRouteAllCandidatesFailing",
        "LLMGatewayRedisDown",
        "LLMGatewayCircuitOpen",
        "LLMGatewayPolicyReloadFailed",
        "LLMGatewayDiscoveryFailing",
    }
    assert [p for rule in rules.values() for p in query_problems(rule["expr"], families)] == []
    failing = rules["LLMGatewayRouteAllCandidatesFailing"]["expr"]
    assert 'status=~"5.."' in failing and 'status=~"2.."' in failing and "unless" in failing
    assert rules["LLMGatewayCircuitOpen"]["for"] == "5m"
    assert "gateway_circuit_open" in rules["LLMGatewayCircuitOpen"]["expr"]
    assert "gateway_redis_errors_total" in rules["LLMGatewayRedisDown"]["expr"]
    assert "gateway_discovery_failures_total" in rules["LLMGatewayDiscoveryFailing"]["expr"]


def test_prometheus_rule_carries_the_file_and_budget_alerts(
    chart: helm_python.Chart, families: dict[str, Family]
) -> None:
    docs = render(chart, SCENARIOS["prometheusRule"])
    groups = find(docs, "PrometheusRule")["spec"]["groups"]
    shipped = yaml.safe_load(ALERTS.read_text())["groups"]
    assert groups[: len(shipped)] == shipped
    (budgets,) = [g for g in groups if g["name"] == "llm-gateway-budgets"]
    by_tenant = {r["labels"]["tenant"]: r for r in budgets["rules"]}
    # policies/examples/tenants.yaml: kids-app 50 USD/day, analytics 200 USD/day.
    assert set(by_tenant) == {"kids-app", "analytics"}
    rule = by_tenant["kids-app"]
    assert rule["alert"] == "LLMGatewayTenantBudgetNearExhaustion"
    assert 'gateway_cost_usd_total{tenant="kids-app"}[1h])) * 86400' in rule["expr"]
    assert rule["expr"].endswith("> 0.9 * 50")
    assert "approximation" in rule["annotations"]["description"]
    assert [p for r in budgets["rules"] for p in query_problems(r["expr"], families)] == []

    explicit = render(chart, SCENARIOS["everything"])
    explicit_groups = find(explicit, "PrometheusRule")["spec"]["groups"]
    (explicit_budgets,) = [g for g in explicit_groups if g["name"] == "llm-gateway-budgets"]
    assert [r["labels"]["tenant"] for r in explicit_budgets["rules"]] == ["team-a"]

    no_tenants = render(chart, {"prometheusRule": {"enabled": True}})
    names = [g["name"] for g in find(no_tenants, "PrometheusRule")["spec"]["groups"]]
    assert names == ["llm-gateway"]


def test_query_checker_catches_mistakes(families: dict[str, Family]) -> None:
    """The checker itself: a wrong family, a wrong suffix and a wrong label are all reported."""
    assert list(query_problems("rate(gateway_requests_total[5m])", families)) == []
    assert list(query_problems("rate(gateway_request_total[5m])", families))
    assert list(query_problems("rate(gateway_request_duration_seconds_total[5m])", families))
    assert list(query_problems('gateway_cost_usd_total{tenat="a"}', families))
    assert list(query_problems("sum by (routes) (gateway_requests_total)", families))
