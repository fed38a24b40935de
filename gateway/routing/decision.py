"""Routing (pure): the engine's input (``RouteRequest``) and output (``Decision``)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from gateway.routing.levers import Levers
from gateway.routing.policy import CachePolicy, Guardrail, ModelSpec, RetryPolicy, feature_names
from gateway.routing.schema import ModelKind, Strategy

_NO_HEADERS: Mapping[str, str] = MappingProxyType({})
_NOTHING_CACHED: Mapping[str, int] = MappingProxyType({})
_NO_LEVERS = Levers()


class RouteRequest(NamedTuple):
    """What routing needs to know about one request. ``headers`` have lowercase names.
    Immutable; a NamedTuple like ``Candidate`` (built per request: a frozen dataclass's
    ``__init__`` costs about 0.2 us a field, a NamedTuple's a fraction of that)."""

    model: str
    tenant: str = "default"
    headers: Mapping[str, str] = _NO_HEADERS
    needs_tools: bool = False
    needs_images: bool = False
    forces_tool: bool = False  # tool_choice "required" or a named function
    stream: bool = False
    prompt_tokens: int = 0
    max_tokens: int | None = None
    kind: ModelKind = "chat"
    needs_documents: bool = False  # file (document) content parts
    service_tier: str | None = None  # the client's (checked); None: the route's default
    #: Expected prompt-cache read tokens per model name (a prefix the model holds cached).
    cached_prefix: Mapping[str, int] = _NOTHING_CACHED


class Candidate(NamedTuple):
    """A model the route considered (immutable). Kept ones have ``rank`` 1.. (the fallback
    order) and ``basis`` = the strategy; excluded ones have rank 0, basis "excluded" and
    ``note`` = why. A NamedTuple rather than a frozen dataclass: ``choose`` makes ~20 a call."""

    model: ModelSpec
    est_cost_usd: float
    observed_latency_ms: float | None
    latency_ms: float
    rank: int
    score: float
    basis: str
    note: str = ""
    #: The id Bedrock is called by (an inference profile where the region needs one).
    invoke_id: str = ""

    @property
    def call_id(self) -> str:
        """The id to call Bedrock by (the catalogue's bedrock_id unless a profile is needed)."""
        return self.invoke_id or self.model.bedrock_id

    @property
    def kept(self) -> bool:
        return self.rank > 0

    @property
    def reason(self) -> str:
        """Why it was kept (and where it sits) or excluded, in words."""
        if not self.kept:
            return self.note
        place = "chosen" if self.rank == 1 else f"fallback {self.rank - 1}"
        basis = self.basis
        if basis == "cost":
            why = f"estimated ${self.est_cost_usd:.6f}"
        elif basis == "latency":
            source = "observed" if self.observed_latency_ms is not None else "prior"
            why = f"{self.latency_ms:.0f} ms ({source})"
        elif basis == "balanced":
            why = f"score {self.score:.3f} (1.0 = best on both)"
        elif basis == "weighted":
            why = f"weight {self.score:g}"
        else:
            why = "position in the route's list"
        return f"{place}: {why}{self.note}"


class Decision(NamedTuple):
    """Where one request goes: ``candidates`` in fallback order (``model`` is the first).
    Immutable; a NamedTuple for the reason ``RouteRequest`` is one."""

    route: str
    strategy: Strategy
    tenant: str
    required_tier: int
    required_mask: int
    candidates: tuple[Candidate, ...]
    excluded: tuple[tuple[str, str], ...]
    excluded_detail: tuple[Candidate, ...]
    guardrail: Guardrail | None
    explored: bool
    retry: RetryPolicy
    timeout_s: float
    cache: CachePolicy
    output_tokens: int
    rule: int | None = None
    levers: Levers = _NO_LEVERS
    #: How far the request's data may travel (``RESIDENCY_RANK``: region 0, geo 1, global 2).
    residency_rank: int = 1

    @property
    def model(self) -> ModelSpec:
        return self.candidates[0].model

    @property
    def est_cost_usd(self) -> float:
        return self.candidates[0].est_cost_usd

    @property
    def required_features(self) -> list[str]:
        return feature_names(self.required_mask)


def _candidate_dict(candidate: Candidate) -> dict[str, Any]:
    return {
        "model": candidate.model.name,
        "bedrock_id": candidate.model.bedrock_id,
        "invocation_id": candidate.call_id,
        "kept": candidate.kept,
        "rank": candidate.rank or None,
        "est_cost_usd": candidate.est_cost_usd,
        "observed_latency_ms": candidate.observed_latency_ms,
        "latency_ms": candidate.latency_ms,
        "safety_tier": candidate.model.safety_tier,
        "reason": candidate.reason,
    }


def decision_to_dict(decision: Decision) -> dict[str, Any]:
    """The explain endpoint's body: the route, the chosen model and every candidate."""
    guardrail = decision.guardrail
    levers = decision.levers
    return {
        "route": decision.route,
        "strategy": decision.strategy,
        "tenant": decision.tenant,
        "rule": decision.rule,
        "model": decision.model.name,
        "bedrock_id": decision.model.bedrock_id,
        "required_safety_tier": decision.required_tier,
        "required_features": decision.required_features,
        "explored": decision.explored,
        "est_cost_usd": decision.est_cost_usd,
        "output_tokens_estimate": decision.output_tokens,
        "guardrail": {"id": guardrail.id, "version": guardrail.version} if guardrail else None,
        "retry": {
            "max_attempts": decision.retry.max_attempts,
            "retryable": sorted(decision.retry.retryable),
        },
        "timeout_s": decision.timeout_s,
        "cache": {"ttl_s": decision.cache.ttl_s, "when": decision.cache.when},
        "levers": {
            "prompt_cache": "auto" if levers.prompt_cache else "off",
            "service_tier": levers.service_tier,
            "latency": "optimized" if levers.latency_optimized else "standard",
            "extra_fields": sorted(levers.extra_fields),
        },
        "candidates": [_candidate_dict(c) for c in decision.candidates]
        + [_candidate_dict(c) for c in decision.excluded_detail],
    }
