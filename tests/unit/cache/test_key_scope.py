"""Unit: the cache key covers what routing made of a request (route after rules, candidates,
guardrail, safety tier) and its translation; a hit needs its model among the candidates."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from gateway.cache.answers import CachedAnswer
from gateway.cache.keys import cache_key
from gateway.routing.decision import RouteRequest
from gateway.routing.engine import choose
from gateway.routing.loader import load_policy
from gateway.routing.stats import LocalStats
from gateway.schemas.parse import parse_chat_request
from gateway.service.caching import CachePlan, may_answer
from gateway.translation.openai_to_converse import prepare_conversation

POLICY = load_policy(Path(__file__).parents[2] / "e2e" / "policies" / "e2e.yaml")
BODY: dict[str, Any] = {
    "model": "haiku",
    "messages": [{"role": "user", "content": "hi"}],
    "temperature": 0,
}


def key(headers: dict[str, str] | None = None, tenant: str = "default", **extra: Any) -> str:
    req = parse_chat_request(BODY | extra)
    prepared = prepare_conversation(req, images=None, allow_image_urls=False)
    decision = choose(
        RouteRequest(
            model=req.model,
            tenant=tenant,
            headers=headers or {},
            stream=bool(req.stream),
            prompt_tokens=prepared.prompt_tokens,
        ),
        POLICY,
        LocalStats(),
        rng=random.Random(1),
    )
    return cache_key(tenant, req, decision=decision, prepared=prepared)


@pytest.mark.parametrize(
    ("headers", "extra", "same"),
    [
        ({}, {}, True),
        ({}, {"stream": True}, True),  # streamed and plain share the answer
        ({"x-data-class": "confidential"}, {}, False),  # a rule: the guarded tier-3 route
        ({"x-gateway-safety-tier": "3"}, {}, False),  # a raised tier
        ({}, {"model": "guarded"}, False),
        ({}, {"model": "chain"}, False),
    ],
)
def test_key_covers_routing(headers: dict[str, str], extra: dict[str, Any], same: bool) -> None:
    assert (key() == key(headers, **extra)) is same


def _answer(model: str) -> CachedAnswer:
    return CachedAnswer({"choices": []}, None, model, "id")


@pytest.mark.parametrize(
    ("allowed", "model", "served"),
    [
        ({"claude-3-haiku"}, "claude-3-haiku", True),
        ({"claude-3-haiku"}, "mistral-7b", False),  # never a model the route may not reach
        (set(), "claude-3-haiku", False),
    ],
)
def test_a_hit_needs_its_model_among_the_candidates(
    allowed: set[str], model: str, served: bool
) -> None:
    plan = CachePlan("v2:k", True, 60, frozenset(allowed))
    assert (may_answer(plan, _answer(model)) is not None) is served
