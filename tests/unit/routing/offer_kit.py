"""Helpers of the discovery unit tests: a policy built from the capability table's API (rows
found by property, never named), and offers built by hand."""

from __future__ import annotations

from typing import Any

from gateway.capabilities import MODELS, ModelCapabilities, invocation_for
from gateway.routing import Policy, compile_policy
from gateway.routing.offer import Offer

REGION = "us-east-1"
UNKNOWN_ID = "vendor.unknown-model-v1"
FOUNDATION_ARN = f"arn:aws:bedrock:{REGION}::foundation-model/vendor.other-model-v1"
APP_PROFILE_ARN = f"arn:aws:bedrock:{REGION}:123456789012:application-inference-profile/ab12"
PROVISIONED_ARN = f"arn:aws:bedrock:{REGION}:123456789012:provisioned-model/xy34"


def _live_chat(row: ModelCapabilities) -> bool:
    return row.kind == "chat" and row.converse and row.lifecycle != "eol" and not row.eol_date


def on_demand_row() -> ModelCapabilities:
    """A live chat model the table offers on demand in REGION."""
    return next(r for r in MODELS if _live_chat(r) and REGION in r.on_demand_regions)


def profile_row() -> ModelCapabilities:
    """A live chat model REGION reaches only through a geography profile."""
    return next(
        r
        for r in MODELS
        if _live_chat(r)
        and REGION not in r.on_demand_regions
        and invocation_for(r.base_id, REGION, "geo", r).model_id is not None
        and invocation_for(r.base_id, REGION, "geo", r).scope == "geo"
    )


def _entry(bedrock_id: str, context: int = 8192) -> dict[str, Any]:
    return {
        "bedrock_id": bedrock_id,
        "price": {"input_per_mtok": 1.0, "output_per_mtok": 2.0},
        "context_window": context,
        "max_output_tokens": 1024,
    }


def policy(residency: str = "geo") -> Policy:
    """Catalogue: ``a`` on demand, ``p`` by profile, ``x`` unknown to the table, and ARNs of a
    foundation model (``fm``), an application profile (``app``) and a provisioned model."""
    doc = {
        "version": 1,
        "models": {
            "a": _entry(on_demand_row().base_id, on_demand_row().context_window),
            "p": _entry(profile_row().base_id, profile_row().context_window),
            "x": _entry(UNKNOWN_ID),
            "fm": _entry(FOUNDATION_ARN),
            "app": _entry(APP_PROFILE_ARN),
            "prov": _entry(PROVISIONED_ARN),
        },
        "routes": {"r": {"strategy": "ordered", "candidates": ["a", "p", "x"]}},
        "defaults": {"residency": residency},
    }
    return compile_policy(doc, region=REGION)


def profile_id(geo: str = "geo") -> str:
    row = profile_row()
    found = invocation_for(row.base_id, REGION, geo, row).model_id  # type: ignore[arg-type]
    assert found is not None
    return found


def full_offer(taken_at: float = 0.0) -> Offer:
    """Everything the catalogue calls, offered."""
    on_demand = {on_demand_row().base_id, UNKNOWN_ID, "vendor.other-model-v1"}
    profiles = {profile_id("geo"), profile_id("global"), APP_PROFILE_ARN}
    return Offer(REGION, taken_at, frozenset(on_demand), frozenset(profiles))
