"""Routing (pure): a readable summary of a compiled policy, for ``gateway check-policy``."""

from __future__ import annotations

from gateway.routing.policy import Policy, Route, feature_names


def _table(rows: list[list[str]], indent: str = "    ") -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        indent
        + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def _route_header(route: Route) -> str:
    extra = []
    if route.strategy == "balanced":
        extra.append(f"cost {route.balance_cost:g} / latency {route.balance_latency:g}")
    if route.strategy == "latency":
        extra.append(f"explore {route.explore:g}")
    if route.require_tier > 1:
        extra.append(f"tier >= {route.require_tier}")
    if route.require_mask:
        extra.append("needs " + ", ".join(feature_names(route.require_mask)))
    if route.guardrail is not None:
        extra.append(f"guardrail {route.guardrail.id} v{route.guardrail.version}")
    extra.append(f"timeout {route.timeout_s:g}s, {route.retry.max_attempts} attempts")
    return f"route {route.name}: {route.strategy} ({'; '.join(extra)})"


def _route_lines(route: Route) -> list[str]:
    rows = [
        ["#", "model", "bedrock_id", "$in/$out per Mtok", "tier", "context", "max out", "features"]
    ]
    weights = dict(zip(route.pool, route.pool_weights, strict=True)) if route.pool_weights else {}
    for index, model in enumerate(route.pool, start=1):
        label = f"{model.name} (w {weights[model]:g})" if model in weights else model.name
        rows.append(
            [
                str(index),
                label,
                model.bedrock_id,
                f"{model.input_per_mtok:g} / {model.output_per_mtok:g}",
                str(model.safety_tier),
                str(model.context_window or "-"),
                str(model.max_output_tokens) if model.kind == "chat" else "-",
                ",".join(sorted(model.features)) or "-",
            ]
        )
    lines = [_route_header(route), *_table(rows)]
    lines += [
        f"    excluded by the route's requirements: {m.name} ({why})"
        for m, why in route.static_excluded
    ]
    shadow = route.shadow
    if shadow is not None:
        budget = f", ${shadow.budget_usd_per_day:g}/day" if shadow.budget_usd_per_day else ""
        similarity = (
            f", similarity by {shadow.embedding_model.name}" if shadow.embedding_model else ""
        )
        limits = f"share {shadow.share:.0%}, at most {shadow.max_in_flight} in flight"
        names = ", ".join(m.name for m in shadow.models)
        lines.append(f"    shadow: {names} ({limits}{budget}{similarity})")
    return lines


def describe_policy(policy: Policy) -> str:
    """Each route with its candidates (bedrock id, price, tier, context), then rules, tenants."""
    chat = sum(1 for m in policy.models.values() if m.kind == "chat")
    lines = [
        f"policy: {_count(len(policy.models), 'model')} "
        f"({chat} chat, {len(policy.models) - chat} embedding), "
        f"{_count(len(policy.routes), 'route')}, {_count(len(policy.rules), 'rule')}, "
        f"{_count(len(policy.tenants), 'tenant')}; "
        f"default route: {policy.defaults.route or '(none)'}",
        "",
    ]
    for route in policy.routes.values():
        lines += [*_route_lines(route), ""]
    for rule in policy.rules:
        cond = [f"header {k}={v}" for k, v in rule.headers]
        cond += [f"tenant={rule.tenant}"] if rule.tenant else []
        cond += [f"model={rule.model_glob}"] if rule.model_glob else []
        then = [f"route {rule.route}"] if rule.route else []
        then += [f"tier >= {rule.require_tier}"] if rule.require_tier > 1 else []
        then += (
            ["needs " + ", ".join(feature_names(rule.require_mask))] if rule.require_mask else []
        )
        lines.append(
            f"rule {rule.index}: when {' and '.join(cond) or 'always'} -> {', '.join(then)}"
        )
    for tenant in policy.tenants.values():
        routes = "*" if tenant.allowed is None else ", ".join(sorted(tenant.allowed))
        limits = ""
        if tenant.rate_limit is not None:
            limits += f", {tenant.rate_limit.requests_per_minute or '-'} req/min"
            limits += f", {tenant.rate_limit.tokens_per_minute or '-'} tok/min"
        if tenant.usd_per_day is not None:
            limits += f", ${tenant.usd_per_day:g}/day"
        lines.append(
            f"tenant {tenant.name}: {_count(len(tenant.key_hashes), 'key')}, routes {routes}, "
            f"tier >= {tenant.min_safety_tier}{limits}"
        )
    return "\n".join(lines).rstrip() + "\n"


def _count(n: int, noun: str) -> str:
    """``1 key``, ``2 keys``, ``0 keys``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
