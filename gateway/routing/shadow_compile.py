"""Routing (pure): compiling a route's shadow block and the tenants that opt out of shadowing."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from gateway.routing.policy import ModelSpec, ShadowSpec, Tenant, feature_names
from gateway.routing.schema import Issues, Loc, ShadowDoc, TenantDoc


def compile_shadow(
    loc: Loc,
    doc: ShadowDoc | None,
    models: Mapping[str, ModelSpec],
    tier: int,
    mask: int,
    issues: Issues,
) -> ShadowSpec | None:
    """A route's shadow block: every model catalogued, chat, listed once and able to meet the
    route's own requirements (else it could never be used); the embedding model an embedding."""
    if doc is None:
        return None
    chosen: list[ModelSpec] = []
    for index, name in enumerate(doc.models):
        item: Loc = (*loc, "models", index)
        model = models.get(name)
        if model is None:
            issues.add(item, f"unknown model '{name}' (not in models)")
        elif model.kind != "chat":
            issues.add(item, f"embedding model '{name}' cannot shadow a chat route")
        elif model in chosen:
            issues.add(item, f"model '{name}' is listed twice")
        elif why := static_reason(model, tier, mask):
            issues.add(item, f"shadow model '{name}' can never meet the route's needs: {why}")
        else:
            chosen.append(model)
    embedding = None
    if doc.embedding_model is not None:
        embedding = models.get(doc.embedding_model)
        if embedding is None or embedding.kind != "embedding":
            what = "unknown model" if embedding is None else "not an embedding model"
            issues.add((*loc, "embedding_model"), f"{what}: '{doc.embedding_model}'")
            embedding = None
    return ShadowSpec(
        models=tuple(chosen),
        share=doc.share,
        max_in_flight=doc.max_in_flight,
        budget_usd_per_day=doc.budget_usd_per_day,
        embedding_model=embedding,
    )


def shadow_opt_outs(tenants: dict[str, Tenant], docs: Mapping[str, TenantDoc]) -> dict[str, Tenant]:
    """Tenants whose policy says ``shadow: false``: their requests are never copied."""
    return {
        name: dataclasses.replace(tenant, shadow_allowed=False)
        if name in docs and not docs[name].shadow
        else tenant
        for name, tenant in tenants.items()
    }


def static_reason(model: ModelSpec, tier: int, mask: int) -> str:
    """Why a model can never meet a route's own tier and feature needs ("" if it can)."""
    if model.safety_tier < tier:
        return f"safety_tier {model.safety_tier} < required {tier}"
    missing = mask & ~model.feature_mask
    if missing:
        return "lacks " + ", ".join(feature_names(missing))
    return ""
