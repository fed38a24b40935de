"""Routing (pure): validate a policy document and compile it into the immutable ``Policy``."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from pydantic import ValidationError

from gateway.routing.capability_check import apply_capabilities
from gateway.routing.levers import route_levers, tier_prices
from gateway.routing.policy import (
    DEFAULT_ROUTE_ALIASES,
    RESIDENCY_RANK,
    CachePolicy,
    Defaults,
    Guardrail,
    ModelSpec,
    Policy,
    RetryPolicy,
    Route,
    feature_mask,
    strip_profile_prefix,
)
from gateway.routing.schema import (
    BalanceDoc,
    CacheDoc,
    Issues,
    Loc,
    ModelDoc,
    PolicyDocument,
    PolicyError,
    PolicyIssue,
    RetryDoc,
    RouteDoc,
)
from gateway.routing.shadow_compile import compile_shadow, shadow_opt_outs, static_reason
from gateway.routing.tenancy import compile_rules, compile_tenants

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+-]*")


def compile_policy(
    doc: Mapping[str, Any] | PolicyDocument,
    *,
    default_key_hashes: Collection[str] = (),
    sources: tuple[str, ...] = (),
    region: str = "us-east-1",
) -> Policy:
    """Validate ``doc`` (a parsed YAML mapping or a ``PolicyDocument``) and compile it.

    Raises ``PolicyError`` listing every issue with its document path (the loader adds the
    file and line). ``default_key_hashes`` are the SHA-256 hex digests of GATEWAY_API_KEYS,
    which belong to the tenant ``default``. ``region`` is the AWS region the gateway calls:
    it decides which models need an inference profile."""
    document = doc if isinstance(doc, PolicyDocument) else validate_document(doc)
    issues = Issues()
    warnings = Issues()
    models = _compile_models(document, issues)
    models = {
        name: apply_capabilities(("models", name), spec, region, warnings)
        for name, spec in models.items()
    }
    guardrails = {
        name: Guardrail(id=g.id, version=g.version) for name, g in document.guardrails.items()
    }
    _check_names(("guardrails",), guardrails, issues)
    defaults = Defaults(
        route=None,
        retry=_retry(document.defaults.retry),
        timeout_s=document.defaults.timeout_s,
        cache=_cache(document.defaults.cache),
        residency_rank=RESIDENCY_RANK[document.defaults.residency],
        tier_residency=_tier_residency(document),
    )
    routes = {
        name: route
        for name, spec in document.routes.items()
        if (route := _compile_route(name, spec, models, guardrails, defaults, issues)) is not None
    }
    lookup = _build_lookup(models, routes, defaults)
    rules = compile_rules(document.rules, lookup, document.tenants, issues)
    tenants, by_key = compile_tenants(document.tenants, lookup, default_key_hashes, issues)
    tenants = shadow_opt_outs(tenants, document.tenants)
    default_route = _default_route(document, lookup, issues)
    issues.raise_if_any()
    return Policy(
        models=MappingProxyType(models),
        routes=MappingProxyType(routes),
        rules=rules,
        tenants=MappingProxyType(tenants),
        guardrails=MappingProxyType(guardrails),
        defaults=replace(defaults, route=default_route),
        lookup=MappingProxyType(lookup),
        by_bedrock_id=MappingProxyType(_bedrock_index(models)),
        by_key_hash=MappingProxyType(by_key),
        sources=sources,
        region=region,
        warnings=tuple(warnings.items),
    )


def _tier_residency(document: PolicyDocument) -> tuple[int, int, int]:
    """The loosest residency rank per required tier: a tier's own entry, or a lower tier's."""
    ranks = [RESIDENCY_RANK["global"]] * 3
    for tier, residency in document.defaults.tier_residency.items():
        for at_least in range(tier, 4):
            ranks[at_least - 1] = min(ranks[at_least - 1], RESIDENCY_RANK[residency])
    return ranks[0], ranks[1], ranks[2]


def validate_document(raw: Mapping[str, Any]) -> PolicyDocument:
    """Shape-check a parsed mapping; pydantic's errors become issues with document paths."""
    if not isinstance(raw, Mapping):
        raise PolicyError([PolicyIssue("the policy must be a mapping at the top level")])
    try:
        return PolicyDocument.model_validate(dict(raw))
    except ValidationError as exc:
        issues = Issues()
        for error in exc.errors():
            loc, message = _describe_error(raw, error)
            issues.add(loc, message)
        raise PolicyError(issues.items) from None


def _describe_error(raw: Any, error: Any) -> tuple[Loc, str]:
    """Map pydantic's loc onto the document (dropping union/validator tags) and word it."""
    loc: list[str | int] = []
    node = raw
    parts = list(error["loc"])
    for index, part in enumerate(parts):
        in_map = isinstance(node, Mapping) and part in node
        if in_map or (isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)):
            loc.append(part)
            node = node[part]
        elif error["type"] == "missing" and index == len(parts) - 1:
            loc.append(part)
    kind = error["type"]
    if kind == "extra_forbidden":
        return tuple(loc), f"unknown key '{loc[-1] if loc else '?'}'"
    if kind == "missing":
        return tuple(loc), f"missing required key '{loc[-1] if loc else '?'}'"
    message = str(error["msg"]).removeprefix("Value error, ")
    if kind in ("literal_error", "enum") or "type" in kind or kind.endswith("_parsing"):
        message = f"{message} (got {error.get('input')!r})"
    return tuple(loc), message


def _check_names(section: Loc, names: Collection[str], issues: Issues) -> None:
    for name in names:
        if not NAME_RE.fullmatch(name) or name in DEFAULT_ROUTE_ALIASES:
            issues.add((*section, name), f"invalid name {name!r} (letters, digits, . _ : / @ + -)")


def _compile_models(document: PolicyDocument, issues: Issues) -> dict[str, ModelSpec]:
    models: dict[str, ModelSpec] = {}
    seen_ids: dict[str, str] = {}
    _check_names(("models",), document.models, issues)
    for name, doc in document.models.items():
        loc: Loc = ("models", name)
        _check_model(loc, doc, issues)
        if doc.bedrock_id in seen_ids:
            issues.add(
                (*loc, "bedrock_id"), f"bedrock_id also used by model '{seen_ids[doc.bedrock_id]}'"
            )
        seen_ids.setdefault(doc.bedrock_id, name)
        models[name] = ModelSpec(
            name=name,
            bedrock_id=doc.bedrock_id,
            kind=doc.kind,
            input_per_mtok=doc.price.input_per_mtok,
            output_per_mtok=doc.price.output_per_mtok or 0.0,
            safety_tier=doc.safety_tier,
            context_window=doc.context_window,
            max_output_tokens=doc.max_output_tokens,
            features=frozenset(doc.features),
            feature_mask=feature_mask(_implied_features(doc.features)),
            expected_latency_ms=doc.expected_latency_ms,
            dimensions=doc.dimensions,
            cache_read_per_mtok=doc.price.cache_read_per_mtok,
            cache_write_per_mtok=doc.price.cache_write_per_mtok,
            tier_prices=tier_prices(doc.price),
        )
    if not document.models:
        issues.add(("models",), "the policy catalogues no model")
    return models


def _check_model(loc: Loc, doc: ModelDoc, issues: Issues) -> None:
    if doc.kind == "chat":
        if doc.context_window is None:
            issues.add(
                (*loc, "context_window"), "missing required key 'context_window' (chat model)"
            )
        if doc.price.output_per_mtok is None:
            issues.add(
                (*loc, "price", "output_per_mtok"),
                "missing required key 'output_per_mtok' (chat model)",
            )
        if doc.dimensions is not None:
            issues.add((*loc, "dimensions"), "dimensions is for embedding models only")


def _retry(doc: RetryDoc) -> RetryPolicy:
    return RetryPolicy(max_attempts=doc.max_attempts, retryable=frozenset(doc.retryable))


def _cache(doc: CacheDoc) -> CachePolicy:
    return CachePolicy(ttl_s=doc.ttl_s, when=doc.when)


def _route_candidates(
    loc: Loc, spec: RouteDoc, models: Mapping[str, ModelSpec], issues: Issues
) -> list[tuple[ModelSpec, float]]:
    """The route's models (with weights for ``weighted``), each name checked."""
    if spec.strategy == "weighted":
        if spec.weights is None:
            issues.add((*loc, "weights"), "missing required key 'weights' (strategy weighted)")
            return []
        if spec.candidates is not None and (
            spec.candidates == "*" or list(spec.candidates) != list(spec.weights)
        ):
            issues.add((*loc, "candidates"), "a weighted route's candidates are its weights' keys")
        named: list[tuple[Loc, str, float]] = [
            ((*loc, "weights", name), name, weight) for name, weight in spec.weights.items()
        ]
    else:
        if spec.weights is not None:
            issues.add((*loc, "weights"), "weights are for strategy weighted only")
        if spec.candidates is None:
            issues.add((*loc, "candidates"), "missing required key 'candidates'")
            return []
        if spec.candidates == "*":
            return [(m, 1.0) for m in models.values() if m.kind == "chat"]
        named = [((*loc, "candidates", i), name, 1.0) for i, name in enumerate(spec.candidates)]
    out: list[tuple[ModelSpec, float]] = []
    for item_loc, name, weight in named:
        if name not in models:
            issues.add(item_loc, f"unknown model '{name}' (not in models)")
        elif any(m.name == name for m, _ in out):
            issues.add(item_loc, f"model '{name}' is listed twice")
        elif weight <= 0:
            issues.add(item_loc, f"weight must be positive, got {weight!r}")
        else:
            out.append((models[name], weight))
    return out


def _check_kinds(
    loc: Loc, spec: RouteDoc, chosen: list[tuple[ModelSpec, float]], issues: Issues
) -> None:
    if all(m.kind == "embedding" for m, _ in chosen):
        return
    key = "weights" if spec.strategy == "weighted" else "candidates"
    names = list(spec.weights or {}) if key == "weights" else list(spec.candidates or [])
    for model, _ in chosen:
        if model.kind == "embedding":
            item: str | int = model.name if key == "weights" else names.index(model.name)
            where: Loc = (*loc, key, item)
            issues.add(where, f"embedding model '{model.name}' in a chat route")


def _compile_route(
    name: str,
    spec: RouteDoc,
    models: Mapping[str, ModelSpec],
    guardrails: Mapping[str, Guardrail],
    defaults: Defaults,
    issues: Issues,
) -> Route | None:
    loc: Loc = ("routes", name)
    if not NAME_RE.fullmatch(name) or name in DEFAULT_ROUTE_ALIASES:
        issues.add(loc, f"invalid route name {name!r} ('default' and '' mean defaults.route)")
    if name in models:
        issues.add(loc, f"route name '{name}' is also a catalogue model name")
    chosen = _route_candidates(loc, spec, models, issues)
    _check_kinds(loc, spec, chosen, issues)
    if spec.balance is not None and spec.strategy != "balanced":
        issues.add((*loc, "balance"), "balance is for strategy balanced only")
    balance = spec.balance or BalanceDoc()
    if balance.cost + balance.latency <= 0:
        issues.add((*loc, "balance"), "balance weights must not both be zero")
    guardrail = None
    if spec.guardrail is not None:
        guardrail = guardrails.get(spec.guardrail)
        if guardrail is None:
            issues.add(
                (*loc, "guardrail"), f"unknown guardrail '{spec.guardrail}' (not in guardrails)"
            )
    tier, mask = spec.require.safety_tier, feature_mask(spec.require.features)
    pool = [(m, w) for m, w in chosen if not static_reason(m, tier, mask)]
    excluded = tuple((m, r) for m, _ in chosen if (r := static_reason(m, tier, mask)))
    if chosen and not pool:
        why = "; ".join(f"{m.name}: {r}" for m, r in excluded)
        issues.add((*loc, "require"), f"no candidate meets the route's requirements ({why})")
    return Route(
        name=name,
        strategy=spec.strategy,
        candidates=tuple(m for m, _ in chosen),
        pool=tuple(m for m, _ in pool),
        pool_weights=tuple(w for _, w in pool) if spec.strategy == "weighted" else (),
        static_excluded=excluded,
        balance_cost=balance.cost,
        balance_latency=balance.latency,
        require_tier=tier,
        require_mask=mask,
        guardrail=guardrail,
        estimated_output_tokens=spec.estimated_output_tokens,
        explore=spec.explore,
        timeout_s=spec.timeout_s if spec.timeout_s is not None else defaults.timeout_s,
        retry=_retry(spec.retry) if spec.retry is not None else defaults.retry,
        cache=defaults.cache,
        shadow=compile_shadow((*loc, "shadow"), spec.shadow, models, tier, mask, issues),
        residency_rank=RESIDENCY_RANK[spec.residency] if spec.residency else None,
        levers=route_levers(spec),
    )


def _one_model_route(model: ModelSpec, defaults: Defaults) -> Route:
    return Route(
        name=model.name,
        strategy="ordered",
        candidates=(model,),
        pool=(model,),
        pool_weights=(),
        static_excluded=(),
        balance_cost=0.5,
        balance_latency=0.5,
        require_tier=1,
        require_mask=0,
        guardrail=None,
        estimated_output_tokens=256,
        explore=0.0,
        timeout_s=defaults.timeout_s,
        retry=defaults.retry,
        cache=defaults.cache,
        implicit=True,
    )


def _build_lookup(
    models: Mapping[str, ModelSpec], routes: Mapping[str, Route], defaults: Defaults
) -> dict[str, Route]:
    lookup: dict[str, Route] = {}
    for model in models.values():
        route = _one_model_route(model, defaults)
        lookup.setdefault(model.bedrock_id, route)
        lookup[model.name] = route
    lookup.update(routes)
    return lookup


def _default_route(
    document: PolicyDocument, lookup: Mapping[str, Route], issues: Issues
) -> str | None:
    name = document.defaults.route
    if name is None:
        return "auto" if "auto" in document.routes else None
    if name not in lookup:
        issues.add(("defaults", "route"), f"unknown route '{name}' (not in routes or models)")
        return None
    return lookup[name].name


def _bedrock_index(models: Mapping[str, ModelSpec]) -> dict[str, ModelSpec]:
    index: dict[str, ModelSpec] = {}
    for model in models.values():
        index.setdefault(model.bedrock_id, model)
    for model in models.values():
        index.setdefault(strip_profile_prefix(model.bedrock_id), model)
    return index


def _implied_features(declared: Iterable[str]) -> set[str]:
    """A model with tools is taken to honour a forced tool choice until its table row (in
    ``capability_check``) says otherwise."""
    features = set(declared)
    if "tools" in features:
        features.add("tool_choice")
    return features
