"""Routing (pure): a catalogue entry checked against the capability table, at compile time.

The table (``gateway.capabilities``) says what AWS documents for the model; the policy says
what the organisation allows. A model is used within both: a feature the policy declares but
the table denies is removed (and warned about), the output limit is capped at the model's,
an end-of-life model is never called, and the id to call is resolved per residency for the
policy's region (the inference profile a profile-only model needs).
"""

from __future__ import annotations

from dataclasses import replace

from gateway.capabilities import ModelCapabilities, capabilities_for, invocation_for
from gateway.routing.policy import (
    FEATURE_BITS,
    RESIDENCIES,
    ModelSpec,
    feature_mask,
    feature_names,
)
from gateway.routing.schema import Issues, Loc

__all__ = ["apply_capabilities", "table_feature_mask"]

_ALL_FEATURES = sum(FEATURE_BITS.values())


def table_feature_mask(caps: ModelCapabilities) -> int:
    """The policy features the table allows for a model (``json`` is the gateway's own)."""
    mask = FEATURE_BITS["json"]
    if caps.tools:
        mask |= FEATURE_BITS["tools"]
    if caps.tools and caps.tool_choice & {"any", "tool"}:
        mask |= FEATURE_BITS["tool_choice"]
    if caps.images:
        mask |= FEATURE_BITS["vision"]
    if caps.converse_stream or caps.kind == "embedding":
        mask |= FEATURE_BITS["streaming"]
    if caps.reasoning is not None:
        mask |= FEATURE_BITS["reasoning"]
    return mask


def apply_capabilities(loc: Loc, spec: ModelSpec, region: str, warnings: Issues) -> ModelSpec:
    """``spec`` with its table row, invocations and limits; warnings for uses against AWS's
    rules. A model the table does not know is used as written."""
    caps = capabilities_for(spec.bedrock_id)
    if caps is None:
        warnings.add(
            (*loc, "bedrock_id"),
            f"{spec.bedrock_id} is not in the capability table: its per-model rules are "
            "unknown, so requests are sent as written",
        )
        return spec
    if caps.kind != spec.kind:
        warnings.add((*loc, "kind"), f"AWS lists {caps.name} as a {caps.kind} model")
    invocations = tuple(
        invocation_for(spec.bedrock_id, region, residency, caps) for residency in RESIDENCIES
    )
    allowed = table_feature_mask(caps)
    lacks = spec.feature_mask & ~allowed & _ALL_FEATURES
    declared = feature_mask(spec.features)
    if lacks & declared:
        warnings.add(
            (*loc, "features"),
            f"AWS documents no {', '.join(feature_names(lacks & declared))} for {caps.name} in "
            "Converse; "
            "requests that need it skip this model",
        )
    max_out = spec.max_output_tokens
    if spec.kind == "chat" and caps.max_output_tokens and max_out > caps.max_output_tokens:
        warnings.add(
            (*loc, "max_output_tokens"),
            f"{max_out} exceeds {caps.name}'s maximum of {caps.max_output_tokens}; capped",
        )
        max_out = caps.max_output_tokens
    unusable = _lifecycle(loc, caps, warnings)
    if not unusable and invocations[1].model_id is None:
        warnings.add((*loc, "bedrock_id"), f"{caps.name}: {invocations[1].reason}")
    return replace(
        spec,
        caps=caps,
        invocations=invocations,
        unusable=unusable,
        table_lacks=lacks,
        feature_mask=spec.feature_mask & ~lacks,
        max_output_tokens=max_out,
    )


def _lifecycle(loc: Loc, caps: ModelCapabilities, warnings: Issues) -> str:
    if caps.lifecycle == "eol":
        since = f" since {caps.eol_date}" if caps.eol_date else ""
        warnings.add(loc, f"{caps.name} reached end of life{since}: it is never called")
        return f"end of life{since} (AWS model lifecycle)"
    if caps.lifecycle == "legacy":
        until = f"; end of life on {caps.eol_date}" if caps.eol_date else ""
        warnings.add(loc, f"{caps.name} is legacy{until}: plan a replacement")
    return ""
