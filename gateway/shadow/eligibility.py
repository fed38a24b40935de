"""Shadow layer (pure): which shadow models a request may be copied to, and why not the others.

A shadow model must meet every requirement the request carried: the safety tier the routing
decision required (route, rule, tenant and ``x-gateway-safety-tier``), its features (tools,
vision, streaming, ...), and the context window and output limit. The checks are routing's own
(``engine.why_not``), so a shadow never sees a request routing would not send it.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.routing.decision import Decision, RouteRequest
from gateway.routing.engine import why_not
from gateway.routing.policy import ModelSpec, ShadowSpec

#: Why a shadow model was skipped, as a fixed label (metrics, report).
CAUSES = ("safety_tier", "features", "context_window", "max_output_tokens", "kind")


@dataclass(frozen=True, slots=True)
class Target:
    """A shadow model for one request; ``cause`` is "" when it may be called."""

    model: ModelSpec
    cause: str = ""
    detail: str = ""

    @property
    def eligible(self) -> bool:
        return not self.cause


def _cause(detail: str) -> str:
    if detail.startswith("safety_tier"):
        return "safety_tier"
    if detail.startswith("lacks"):
        return "features"
    if detail.startswith("context_window"):
        return "context_window"
    if detail.startswith("max_output_tokens"):
        return "max_output_tokens"
    return "kind"


def shadow_targets(
    spec: ShadowSpec,
    decision: Decision,
    *,
    prompt_tokens: int,
    max_tokens: int | None,
    primary: str,
) -> list[Target]:
    """Every shadow model but the one that answered, each with why it may not be used."""
    request = RouteRequest(
        model=decision.route,
        tenant=decision.tenant,
        prompt_tokens=prompt_tokens,
        max_tokens=max_tokens,
        kind="chat",
    )
    out: list[Target] = []
    for model in spec.models:
        if model.name == primary:
            continue
        detail = why_not(
            model, request, decision.required_tier, decision.required_mask, decision.output_tokens
        )
        out.append(Target(model, _cause(detail) if detail else "", detail))
    return out
