"""Translation (pure): Bedrock's cost and latency levers in a Converse body.

What to use is decided by routing (the route's levers, the model's offer and prices); this
module only writes it: ``cachePoint`` blocks (``translation.caching``), ``serviceTier``,
``performanceConfig`` and the route-allowed extra fields in ``additionalModelRequestFields``
(the gateway's own fields, e.g. ``thinking``, win over a client's field of the same name).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from gateway.capabilities import capabilities_for
from gateway.translation.caching import add_cache_points


def _no_fields() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Levers:
    """The levers of one call: ``service_tier`` None sends none (Bedrock's default tier)."""

    prompt_cache: bool = False
    service_tier: str | None = None
    latency_optimized: bool = False
    extra_fields: Mapping[str, Any] = field(default_factory=_no_fields)


def apply_levers(body: dict[str, Any], bedrock_id: str, levers: Levers) -> None:
    """Write the levers into a Converse body (in place; shared lists are not mutated)."""
    if levers.prompt_cache:
        caps = capabilities_for(bedrock_id)
        if caps is not None and caps.prompt_caching is not None:
            add_cache_points(body, caps.prompt_caching)
    if levers.service_tier is not None:
        body["serviceTier"] = {"type": levers.service_tier}
    if levers.latency_optimized:
        body["performanceConfig"] = {"latency": "optimized"}
    if levers.extra_fields:
        own = body.get("additionalModelRequestFields") or {}
        body["additionalModelRequestFields"] = {**levers.extra_fields, **own}
