"""Routing (pure): what a region offers (Bedrock's control-plane listings) against the catalogue.

The capability table says where AWS documents a model; an account's region may still lack it
(a model not yet launched there, an opt-in region, a GovCloud partition). Discovery reads
ListFoundationModels and ListInferenceProfiles into an ``Offer``; ``not_offered`` names each
catalogue model that none of its invocation ids (the base id on demand, or the profile the
compiler chose per residency) can reach, so routing benches it with that reason.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from gateway.capabilities import split_profile
from gateway.routing.policy import ModelSpec

__all__ = [
    "Offer",
    "OfferedModel",
    "invocation_ids",
    "is_judged",
    "is_offered",
    "not_offered",
    "offer_reason",
]

#: ARN resource types whose offer the listings cannot tell (provisioned or custom models).
_UNJUDGED_ARNS = (":provisioned-model/", ":custom-model/", ":imported-model/")


@dataclass(frozen=True, slots=True)
class OfferedModel:
    """One ListFoundationModels summary, as ``gateway models --discover`` shows it."""

    model_id: str
    name: str
    provider: str
    inference_types: tuple[str, ...]
    lifecycle: str


@dataclass(frozen=True, slots=True)
class Offer:
    """One region's listings at ``taken_at`` (Unix time): base ids callable on demand, and
    the ids and ARNs of the ACTIVE inference profiles."""

    region: str
    taken_at: float
    on_demand: frozenset[str]
    profiles: frozenset[str]
    models: tuple[OfferedModel, ...] = ()

    @property
    def empty(self) -> bool:
        """An answer listing nothing is not believed (it would bench every model)."""
        return not self.on_demand and not self.profiles


def is_judged(model_id: str) -> bool:
    """False for ARNs the listings cannot judge (provisioned, custom, imported models)."""
    return not (model_id.startswith("arn:") and any(k in model_id for k in _UNJUDGED_ARNS))


def is_offered(model_id: str, offer: Offer) -> bool:
    """True when ``model_id`` (base id, profile id or ARN) is callable per the listings; ids
    the listings cannot judge (``is_judged``) count as offered."""
    if not is_judged(model_id):
        return True
    if model_id.startswith("arn:"):
        if ":foundation-model/" in model_id:
            return model_id.rsplit("/", 1)[-1] in offer.on_demand
        return model_id in offer.profiles or model_id.rsplit("/", 1)[-1] in offer.profiles
    geo, _ = split_profile(model_id)
    if geo is not None:
        return model_id in offer.profiles
    return model_id in offer.on_demand


def invocation_ids(spec: ModelSpec) -> tuple[str, ...]:
    """The distinct ids the model may be called by, strictest residency first."""
    if not spec.invocations:
        return (spec.bedrock_id,)
    ids: list[str] = []
    for invocation in spec.invocations:
        if invocation.model_id is not None and invocation.model_id not in ids:
            ids.append(invocation.model_id)
    return tuple(ids)


def offer_reason(region: str, taken_at: float, ids: Iterable[str]) -> str:
    """The bench reason: which ids the region lacks and when the listings said so."""
    stamp = time.strftime("%H:%MZ", time.gmtime(taken_at))
    return (
        f"not offered in {region}: {', '.join(ids)} "
        f"(ListFoundationModels/ListInferenceProfiles at {stamp})"
    )


def not_offered(models: Mapping[str, ModelSpec], offer: Offer, region: str) -> dict[str, str]:
    """Catalogue name -> reason, for every model none of whose invocation ids the region
    offers. End-of-life models (never called anyway) and models with no callable id (the
    residency already excludes them) are left out; so is everything when ``offer`` is empty."""
    if offer.empty:
        return {}
    reasons: dict[str, str] = {}
    for name, spec in models.items():
        if spec.unusable:
            continue
        ids = invocation_ids(spec)
        if ids and not any(is_offered(model_id, offer) for model_id in ids):
            reasons[name] = offer_reason(region, offer.taken_at, ids)
    return reasons
