"""Routing (pure): ``choose(request, policy, stats, rng=...)`` -> ``Decision`` (docs/design.md).

Steps, in order: the tenant limits the routes; the first matching rule or the requested
``model`` names the route; the route's candidates are filtered by safety tier, features,
context window, output limit and health; the route's strategy orders the survivors (the
order is the fallback order). Everything the policy fixes is precomputed by the compiler;
this module does only per-request work.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from gateway.errors import (
    InvalidRequestError,
    NoCandidateError,
    NotFoundError,
    PermissionDeniedError,
    UpstreamUnavailableError,
)
from gateway.routing.decision import Candidate, Decision, RouteRequest, decision_to_dict
from gateway.routing.levers import call_cost, call_levers, price_of
from gateway.routing.policy import (
    DEFAULT_ROUTE_ALIASES,
    FEATURE_BITS,
    ModelSpec,
    Policy,
    Route,
    Rule,
    Tenant,
    feature_names,
)
from gateway.routing.stats import StatsView

__all__ = [
    "DEFAULT_LATENCY_MS",
    "TIER_HEADER",
    "Candidate",
    "Decision",
    "RouteRequest",
    "actual_cost",
    "allowed_names",
    "choose",
    "decision_to_dict",
    "estimate_cost",
    "tenant_for_key_hash",
]

DEFAULT_LATENCY_MS = 1000.0
TIER_HEADER = "x-gateway-safety-tier"
CIRCUIT_OPEN = "circuit open (recent failures)"
#: What a client is told to wait when only open circuits stand in the way (the cool-down).
CIRCUIT_RETRY_AFTER_S = 5.0
_TOOLS = FEATURE_BITS["tools"]
_VISION = FEATURE_BITS["vision"]
_STREAMING = FEATURE_BITS["streaming"]
_TOOL_CHOICE = FEATURE_BITS["tool_choice"]
_TIERS = {"1": 1, "2": 2, "3": 3}
_EPS = 1e-12

# (model, est_cost_usd, observed_latency_ms, latency_ms, weight, invoke_id)
_Row = tuple[ModelSpec, float, float | None, float, float, str]


def estimate_cost(model: ModelSpec, prompt_tokens: int, output_tokens: int) -> float:
    """Estimated USD: prompt tokens x input price + output tokens x output price (per million)."""
    return (prompt_tokens * model.input_per_mtok + output_tokens * model.output_per_mtok) / 1e6


def _estimate(
    route: Route, model: ModelSpec, request: RouteRequest, out_tokens: int, region: str
) -> float:
    """The estimate at the price the call will be served at (tier, latency), with the
    expected cache reads of a prefix the model holds (cache writes are not anticipated)."""
    cached = min(request.cached_prefix.get(model.name, 0), request.prompt_tokens)
    if not model.tier_prices and not cached:
        return estimate_cost(model, request.prompt_tokens, out_tokens)
    prices = model.tier_price_map
    chosen = call_levers(route.levers, model.caps, prices, region, request.service_tier)
    price = price_of(
        model.price, prices, chosen.service_tier or "default", chosen.latency_optimized
    )
    return call_cost(price, request.prompt_tokens, out_tokens, cache_read=cached)


def actual_cost(model: ModelSpec, input_tokens: int, output_tokens: int) -> float:
    """USD for real usage as Bedrock reported it (same prices as the estimate)."""
    return (input_tokens * model.input_per_mtok + output_tokens * model.output_per_mtok) / 1e6


def tenant_for_key_hash(policy: Policy, sha256_hex: str) -> str | None:
    """The tenant owning a key, by the key's SHA-256 hex digest; None for an unknown key."""
    return policy.by_key_hash.get(sha256_hex.lower())


def allowed_names(policy: Policy, tenant: str) -> list[str]:
    """Route and catalogue names the tenant may put in ``model`` (GET /v1/models), routes first."""
    spec = policy.tenants.get(tenant)
    if spec is None:
        return []
    names = [*policy.routes, *policy.models]
    return [name for name in names if spec.may_use(name)]


def choose(
    request: RouteRequest,
    policy: Policy,
    stats: StatsView,
    *,
    rng: random.Random,
    now: float | None = None,
) -> Decision:
    """Route one request. Raises NotFoundError (unknown model), PermissionDeniedError (the
    tenant may not use the route, or its minimum tier excludes every candidate),
    InvalidRequestError (bad x-gateway-safety-tier) or NoCandidateError (nothing fits).
    ``now`` is passed to ``stats.is_available`` (None: the stats' own clock)."""
    tenant = policy.tenants.get(request.tenant)
    if tenant is None:
        raise PermissionDeniedError(
            f"The tenant '{request.tenant}' is not defined by the routing policy."
        )
    rule = _first_rule(policy.rules, request)
    route = _resolve(policy, request, rule, tenant)
    base_tier, need = _requirements(request, route, rule)
    tier = max(base_tier, tenant.min_safety_tier)
    residency = _residency_rank(policy, route, tenant, tier)
    if request.kind == "embedding":
        out_tokens = 0
    elif request.max_tokens is not None:
        out_tokens = request.max_tokens
    else:
        out_tokens = route.estimated_output_tokens
    kept, dropped = _filter(
        route, request, stats, tier, need, out_tokens, now, residency, policy.region
    )
    if not kept:
        _raise_none_left(route, request, tenant, dropped, base_tier, tier, need, out_tokens)
    candidates, explored = _order(route, kept, rng)
    return Decision(
        route=route.name,
        strategy=route.strategy,
        tenant=tenant.name,
        required_tier=tier,
        required_mask=need,
        candidates=candidates,
        excluded=tuple((c.model.name, c.note) for c in dropped),
        excluded_detail=tuple(dropped),
        guardrail=route.guardrail,
        explored=explored,
        retry=route.retry,
        timeout_s=route.timeout_s,
        cache=route.cache,
        output_tokens=out_tokens,
        rule=rule.index if rule is not None else None,
        levers=route.levers,
        residency_rank=residency,
    )


def _first_rule(rules: tuple[Rule, ...], request: RouteRequest) -> Rule | None:
    for rule in rules:
        if rule.matches(request.model, request.tenant, request.headers):
            return rule
    return None


def _resolve(policy: Policy, request: RouteRequest, rule: Rule | None, tenant: Tenant) -> Route:
    name = rule.route if rule is not None and rule.route is not None else request.model
    route = policy.resolve(name)
    if route is None:
        if name in DEFAULT_ROUTE_ALIASES:
            raise NotFoundError(
                "No default route is configured: name a model or route.", param="model"
            )
        raise NotFoundError(
            f"The model '{request.model}' does not exist or you do not have access to it.",
            param="model",
        )
    if not tenant.may_use(route.name):
        raise PermissionDeniedError(
            f"The tenant '{tenant.name}' may not use the route '{route.name}'.", param="model"
        )
    return route


def _requirements(request: RouteRequest, route: Route, rule: Rule | None) -> tuple[int, int]:
    """(tier from route, rule and header; feature mask from route, rule and request)."""
    tier = max(route.require_tier, _header_tier(request.headers))
    need = route.require_mask
    if rule is not None:
        tier = max(tier, rule.require_tier)
        need |= rule.require_mask
    if request.needs_tools:
        need |= _TOOLS
    if request.needs_images:
        need |= _VISION
    if request.forces_tool:
        need |= _TOOL_CHOICE
    if request.stream:
        need |= _STREAMING
    return tier, need


def _residency_rank(policy: Policy, route: Route, tenant: Tenant, tier: int) -> int:
    """The strictest of the route's (or the default), the tenant's and the tier's residency."""
    rank = route.residency_rank
    if rank is None:
        rank = policy.defaults.residency_rank
    if tenant.residency_rank is not None and tenant.residency_rank < rank:
        rank = tenant.residency_rank
    return min(rank, policy.defaults.tier_residency[tier - 1])


def _header_tier(headers: Mapping[str, str]) -> int:
    value = headers.get(TIER_HEADER)
    if value is None:
        return 1
    tier = _TIERS.get(value.strip())
    if tier is None:
        raise InvalidRequestError(
            f"Invalid header {TIER_HEADER}: {value[:16]!r}; expected 1, 2 or 3.",
            param=TIER_HEADER,
        )
    return tier


def why_not(model: ModelSpec, request: RouteRequest, tier: int, need: int, out: int) -> str:
    """Why the model cannot take the request ("" when it can), health aside."""
    if model.kind != request.kind:
        return f"{model.kind} model, the request needs {request.kind}"
    if model.safety_tier < tier:
        return f"safety_tier {model.safety_tier} < required {tier}"
    missing = need & ~model.feature_mask
    if missing:
        aws = missing & model.table_lacks
        if aws:
            caps = model.caps
            name = caps.name if caps is not None else model.bedrock_id
            return f"lacks {', '.join(feature_names(missing))} (AWS: {name} has no " + (
                f"{', '.join(feature_names(aws))} in Converse)"
            )
        return "lacks " + ", ".join(feature_names(missing))
    if request.needs_documents and (model.caps is None or not model.caps.documents):
        return "lacks documents (file content parts)"
    window = model.context_window
    if window is not None and request.prompt_tokens + out > window:
        return (
            f"context_window {window} < {request.prompt_tokens + out} tokens "
            f"({request.prompt_tokens} prompt + {out} output)"
        )
    limit = model.max_output_tokens
    if request.max_tokens is not None and request.kind == "chat" and request.max_tokens > limit:
        return f"max_output_tokens {model.max_output_tokens} < max_tokens {request.max_tokens}"
    return ""


def _filter(
    route: Route,
    request: RouteRequest,
    stats: StatsView,
    tier: int,
    need: int,
    out_tokens: int,
    now: float | None,
    residency: int,
    region: str,
) -> tuple[list[_Row], list[Candidate]]:
    kept: list[_Row] = []
    dropped: list[Candidate] = []
    weights = route.pool_weights
    for index, model in enumerate(route.pool):
        cost = _estimate(route, model, request, out_tokens, region)
        observed = stats.latency_ms(model.name, request.stream)
        if observed is not None:
            latency = observed
        elif model.expected_latency_ms is not None:
            latency = model.expected_latency_ms
        else:
            latency = DEFAULT_LATENCY_MS
        why = model.unusable or why_not(model, request, tier, need, out_tokens)
        invoke_id = model.bedrock_id
        if not why and model.invocations:
            invocation = model.invocations[residency]
            if invocation.model_id is None:
                why = invocation.reason
            else:
                invoke_id = invocation.model_id
        if not why:
            why = stats.bench_reason(model.name, need, now)
        if not why and not stats.is_available(model.name, now):
            why = CIRCUIT_OPEN
        if why:
            dropped.append(Candidate(model, cost, observed, latency, 0, 0.0, "excluded", why))
        else:
            weight = weights[index] if weights else 1.0
            kept.append((model, cost, observed, latency, weight, invoke_id))
    for model, why in route.static_excluded:
        cost = _estimate(route, model, request, out_tokens, region)
        latency = model.expected_latency_ms or DEFAULT_LATENCY_MS
        dropped.append(Candidate(model, cost, None, latency, 0, 0.0, "excluded", why))
    return kept, dropped


def _order(
    route: Route, rows: list[_Row], rng: random.Random
) -> tuple[tuple[Candidate, ...], bool]:
    """Order the survivors by the route's strategy; returns (candidates, explored)."""
    strategy = route.strategy
    explored = False
    scores: list[float]
    if strategy == "cost":
        rows.sort(key=lambda row: row[1])
        scores = [row[1] for row in rows]
    elif strategy == "latency":
        rows.sort(key=lambda row: row[3])
        if len(rows) > 1 and route.explore > 0 and rng.random() < route.explore:
            rows.insert(0, rows.pop(rng.randrange(1, len(rows))))
            explored = True
        scores = [row[3] for row in rows]
    elif strategy == "balanced":
        rows, scores = _balanced(route, rows)
    elif strategy == "weighted":
        rows = _weighted(rows, rng)
        scores = [row[4] for row in rows]
    else:
        scores = [float(rank) for rank in range(1, len(rows) + 1)]
    note = " (exploration: a non-best candidate first)" if explored else ""
    candidates = tuple(
        Candidate(
            row[0], row[1], row[2], row[3], rank, score, strategy, note if rank == 1 else "", row[5]
        )
        for rank, (row, score) in enumerate(zip(rows, scores, strict=True), start=1)
    )
    return candidates, explored


def _balanced(route: Route, rows: list[_Row]) -> tuple[list[_Row], list[float]]:
    best_cost = min(row[1] for row in rows) + _EPS
    best_latency = min(row[3] for row in rows) + _EPS
    wc, wl = route.balance_cost, route.balance_latency
    total = wc + wl
    scored = sorted(
        (
            ((wc * (row[1] + _EPS) / best_cost + wl * (row[3] + _EPS) / best_latency) / total, row)
            for row in rows
        ),
        key=lambda pair: pair[0],
    )
    return [row for _, row in scored], [score for score, _ in scored]


def _weighted(rows: list[_Row], rng: random.Random) -> list[_Row]:
    """One draw by weight goes first; the rest follow by descending weight (the fallbacks)."""
    total = sum(row[4] for row in rows)
    point = rng.random() * total
    picked = len(rows) - 1
    for index, row in enumerate(rows):
        point -= row[4]
        if point < 0:
            picked = index
            break
    first = rows.pop(picked)
    rows.sort(key=lambda row: -row[4])
    return [first, *rows]


def _raise_none_left(
    route: Route,
    request: RouteRequest,
    tenant: Tenant,
    dropped: list[Candidate],
    base_tier: int,
    tier: int,
    need: int,
    out_tokens: int,
) -> None:
    detail = "; ".join(f"{c.model.name}: {c.note}" for c in dropped) or "the route has no models"
    if tier > base_tier and any(
        not why_not(m, request, base_tier, need, out_tokens) for m in route.pool
    ):
        raise PermissionDeniedError(
            f"The tenant '{tenant.name}' requires safety tier {tier}, which no model of route "
            f"'{route.name}' meets for this request: {detail}",
            param="model",
        )
    if any(c.note == CIRCUIT_OPEN or c.note.startswith("benched") for c in dropped):
        # Temporary and on the gateway's side: a 503 the SDK retries, not a client error.
        raise UpstreamUnavailableError(
            f"No model of route '{route.name}' is available right now: {detail}",
            retry_after=CIRCUIT_RETRY_AFTER_S,
        )
    raise NoCandidateError(
        f"No model of route '{route.name}' fits this request: {detail}", param="model"
    )


def explain(
    request: RouteRequest, policy: Policy, stats: StatsView, *, rng: random.Random
) -> dict[str, Any]:
    """``decision_to_dict(choose(...))``: the body of POST /v1/gateway/explain."""
    return decision_to_dict(choose(request, policy, stats, rng=rng))
