"""Properties: every decision meets its requirements and misses no fitting model; weighted
picks follow the weights; exploration takes its share."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.errors import GatewayError, NoCandidateError, UpstreamUnavailableError
from gateway.routing import Policy, RouteRequest, choose, compile_policy
from gateway.routing.policy import FEATURE_BITS, ModelSpec
from tests.unit.routing.routing_testkit import FakeStats

NAMES = ["", "auto", "cheap", "fast", "safe", "claude-3-haiku", "llama3-8b", "nova-pro", "x"]


def _fits(model: ModelSpec, request: RouteRequest, tier: int, mask: int) -> bool:
    out = request.max_tokens if request.max_tokens is not None else 256
    return (
        model.kind == request.kind
        and model.safety_tier >= tier
        and not mask & ~model.feature_mask
        and (model.context_window is None or request.prompt_tokens + out <= model.context_window)
        and (request.max_tokens is None or request.max_tokens <= model.max_output_tokens)
    )


def _route_request(**fields: Any) -> RouteRequest:
    """Only the drawn fields (hypothesis would draw every field of a NamedTuple)."""
    return RouteRequest(**fields)


requests = st.builds(
    _route_request,
    model=st.sampled_from(NAMES),
    needs_tools=st.booleans(),
    needs_images=st.booleans(),
    stream=st.booleans(),
    prompt_tokens=st.integers(0, 320_000),
    max_tokens=st.none() | st.integers(1, 12_000),
    headers=st.sampled_from([{}, {"x-gateway-safety-tier": "2"}, {"x-gateway-safety-tier": "3"}]),
)


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    request=requests,
    seed=st.integers(0, 2**32),
    down=st.sets(st.sampled_from(["nova-micro", "nova-lite", "claude-3-haiku"])),
)
def test_decisions_meet_requirements(
    default_policy: Policy, request: RouteRequest, seed: int, down: set[str]
) -> None:
    stats = FakeStats(down=down)
    route = default_policy.resolve(request.model)
    try:
        decision = choose(request, default_policy, stats, rng=random.Random(seed))
    except (NoCandidateError, UpstreamUnavailableError):  # 503 when open circuits are why
        assert route is not None
        tier = max(route.require_tier, int(request.headers.get("x-gateway-safety-tier", 1)))
        mask = _needed(request) | route.require_mask
        assert not [m for m in route.pool if _fits(m, request, tier, mask) and m.name not in down]
        return
    except GatewayError:
        assert route is None
        return
    mask = decision.required_mask
    assert mask & _needed(request) == _needed(request)
    for candidate in decision.candidates:
        assert _fits(candidate.model, request, decision.required_tier, mask)
        assert candidate.model.name not in down
    assert decision.required_tier >= int(request.headers.get("x-gateway-safety-tier", 1))
    assert route is not None
    fitting = {m.name for m in route.pool if _fits(m, request, decision.required_tier, mask)}
    assert {c.model.name for c in decision.candidates} == fitting - down
    assert len(decision.candidates) + len(decision.excluded) == len(route.candidates)


def _needed(request: RouteRequest) -> int:
    mask = FEATURE_BITS["tools"] if request.needs_tools else 0
    mask |= FEATURE_BITS["vision"] if request.needs_images else 0
    return mask | (FEATURE_BITS["streaming"] if request.stream else 0)


def _weighted_policy(weights: dict[str, int]) -> Policy:
    models = {
        name: {
            "bedrock_id": f"v.{name}",
            "price": {"input_per_mtok": 1, "output_per_mtok": 1},
            "context_window": 1000,
        }
        for name in weights
    }
    routes = {"w": {"strategy": "weighted", "weights": weights}}
    return compile_policy({"version": 1, "models": models, "routes": routes})


@settings(max_examples=15, deadline=None)
@given(
    weights=st.lists(st.integers(1, 100), min_size=2, max_size=5).map(
        lambda ws: {f"m{i}": w for i, w in enumerate(ws)}
    ),
    seed=st.integers(0, 2**32),
)
def test_weighted_picks_follow_the_weights(weights: dict[str, int], seed: int) -> None:
    policy = _weighted_policy(weights)
    rng = random.Random(seed)
    draws = 6000
    request = RouteRequest(model="w", prompt_tokens=10)
    picks: Counter[str] = Counter()
    for _ in range(draws):
        decision = choose(request, policy, FakeStats(), rng=rng)
        picks[decision.model.name] += 1
        rest = [c.model.name for c in decision.candidates[1:]]
        assert [weights[n] for n in rest] == sorted((weights[n] for n in rest), reverse=True)
    total = sum(weights.values())
    for name, weight in weights.items():
        assert picks[name] / draws == pytest.approx(weight / total, abs=0.03)


def test_weighted_draws_only_among_survivors() -> None:
    policy = _weighted_policy({"a": 50, "b": 30, "c": 20})
    rng = random.Random(1)
    picks = Counter(
        choose(RouteRequest(model="w"), policy, FakeStats(down={"a"}), rng=rng).model.name
        for _ in range(5000)
    )
    assert set(picks) == {"b", "c"}
    assert picks["b"] / 5000 == pytest.approx(0.6, abs=0.03)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_exploration_share(engine_policy: Policy, seed: int) -> None:
    rng = random.Random(seed)
    request = RouteRequest(model="lat_explore", prompt_tokens=10)
    draws = 10000
    firsts: Counter[str] = Counter()
    explored = 0
    for _ in range(draws):
        decision = choose(request, engine_policy, FakeStats(), rng=rng)
        firsts[decision.model.name] += 1
        explored += decision.explored
        if decision.explored:
            assert decision.model.name != "tiny"
            assert "exploration" in decision.candidates[0].reason
    assert explored / draws == pytest.approx(0.2, abs=0.015)
    assert firsts["tiny"] == draws - explored
    assert firsts["mid"] == pytest.approx(firsts["big"], rel=0.15)  # uniform among the others


def test_no_exploration_when_explore_is_zero(engine_policy: Policy) -> None:
    rng = random.Random(0)
    request = RouteRequest(model="lat", prompt_tokens=10)
    assert not any(
        choose(request, engine_policy, FakeStats(), rng=rng).explored for _ in range(2000)
    )


def test_same_seed_same_decisions(default_policy: Policy) -> None:
    request = RouteRequest(model="fast", prompt_tokens=10)
    runs = [
        [choose(request, default_policy, FakeStats(), rng=rng).model.name for _ in range(300)]
        for rng in (random.Random(9), random.Random(9))
    ]
    assert runs[0] == runs[1]
