"""Capabilities (pure): find a model's row, and the id to call it by in a region.

Bedrock serves some models on demand by their base id in a region, others only through a
system-defined cross-region inference profile (``us.<base id>``, ``eu.``, ``apac.``,
``jp.``, ``au.``, ``ca.``, ``us-gov.``, ``global.``), which may process the request in
another region of the geography (or anywhere, for ``global.``). ``invocation_for`` picks
the id a region needs within what a residency rule allows, once per policy compilation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from gateway.capabilities.model import GEOGRAPHIES, ModelCapabilities, Residency
from gateway.capabilities.table import MODELS

__all__ = [
    "Invocation",
    "capabilities_for",
    "geography_of",
    "invocation_for",
    "row_for_base",
    "split_profile",
]

_BY_ID: dict[str, ModelCapabilities] = {row.base_id: row for row in MODELS}
_PREFIXES: tuple[str, ...] = tuple(sorted(GEOGRAPHIES, key=len, reverse=True))
_RANK: dict[str, int] = {"region": 0, "geo": 1, "global": 2}


@dataclass(frozen=True, slots=True)
class Invocation:
    """How a catalogue entry is called under one residency: ``model_id`` (None: it cannot
    be, and ``reason`` says why) and the ``scope`` the request's data may travel to."""

    model_id: str | None
    scope: Residency
    reason: str = ""


def split_profile(model_id: str) -> tuple[str | None, str]:
    """``us.anthropic.claude-...`` -> ``("us", "anthropic.claude-...")``; ARNs are reduced
    to their resource part (a foundation model or a system-defined profile)."""
    model = model_id.rsplit("/", 1)[-1] if model_id.startswith("arn:") else model_id
    for geo in _PREFIXES:
        if model.startswith(geo + ".") and "." in model[len(geo) + 1 :]:
            return geo, model[len(geo) + 1 :]
    return None, model


@lru_cache(maxsize=1024)
def capabilities_for(model_id: str) -> ModelCapabilities | None:
    """The table row for a model id, profile id or ARN; None for a model the table lacks
    (an application inference profile's ARN hides its model, so it is unknown too)."""
    if ":application-inference-profile/" in model_id:
        return None
    _, base = split_profile(model_id)
    return row_for_base(base, _BY_ID)


def row_for_base(base: str, by_id: Mapping[str, ModelCapabilities]) -> ModelCapabilities | None:
    """The row for a base id or one of its variants (provisioned context sizes such as
    ``...-v1:0:200k``): a variant continues its base id with ":", so a different model
    that merely shares a prefix (``...-v1`` vs ``...-v1:0``) never matches."""
    head, sep = base, ":"
    while sep:
        row = by_id.get(head)
        if row is not None:
            return row
        head, sep, _ = head.rpartition(":")
    return None


def geography_of(region: str) -> tuple[str, ...]:
    """Profile geographies a source region may use, most local first."""
    if region.startswith("us-gov-"):
        return ("us-gov",)
    if region.startswith("us-"):
        return ("us",)
    if region.startswith("eu-"):
        return ("eu",)
    if region.startswith("ca-"):
        return ("ca", "us")
    if region in ("ap-northeast-1", "ap-northeast-3"):
        return ("jp", "apac")
    if region in ("ap-southeast-2", "ap-southeast-4"):
        return ("au", "apac")
    if region.startswith("ap-"):
        return ("apac",)
    return ()


def _scope_of(geo: str | None) -> Residency:
    if geo is None:
        return "region"
    return "global" if geo == "global" else "geo"


def invocation_for(
    bedrock_id: str, region: str, residency: Residency, caps: ModelCapabilities | None = None
) -> Invocation:
    """The id to call ``bedrock_id`` (a catalogue entry's) by from ``region`` under
    ``residency``. An explicit profile id or ARN is called as written; a base id becomes the
    profile the region needs when the model has no on-demand offer there."""
    geo, base = split_profile(bedrock_id)
    allowed = _RANK[residency]
    if geo is not None or bedrock_id.startswith("arn:"):
        scope = _scope_of(geo)
        if _RANK[scope] > allowed:
            return Invocation(
                None,
                scope,
                f"{bedrock_id} is a {scope} profile; residency '{residency}' forbids it",
            )
        return Invocation(bedrock_id, scope)
    if caps is None:
        caps = capabilities_for(bedrock_id)
    if caps is None or region in caps.on_demand_regions:
        return Invocation(bedrock_id, "region")
    wanted: list[str] = []
    for geo_name in (*geography_of(region), "global"):
        if geo_name not in caps.profiles:
            continue
        scope = _scope_of(geo_name)
        if _RANK[scope] <= allowed:
            return Invocation(f"{geo_name}.{base}", scope)
        wanted.append(f"{geo_name}.")
    if wanted:
        return Invocation(
            None,
            "region",
            f"no on-demand offer in {region}; its {'/'.join(wanted)} inference profile is "
            f"outside residency '{residency}'",
        )
    return Invocation(None, "region", f"not offered in {region} (on demand or by profile)")
