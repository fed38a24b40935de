"""The shipped catalogue against the capability table: routes use active models only, every
current model is callable from us-east-1 within the default residency, and check-policy's
warnings there are the lifecycle ones alone."""

from __future__ import annotations

import pytest

from gateway.routing import Policy, load_policy
from tests.unit.routing.routing_testkit import REPO

SHIPPED_ROUTES = ("auto", "cheap", "fast", "safe", "embed")


@pytest.mark.parametrize("route", SHIPPED_ROUTES)
def test_shipped_routes_use_active_models_only(default_policy: Policy, route: str) -> None:
    candidates = default_policy.routes[route].candidates
    assert candidates
    for spec in candidates:
        assert spec.caps is not None, spec.name
        assert (spec.name, spec.caps.lifecycle) == (spec.name, "active")
        assert not spec.unusable


def test_safe_route_requires_tier_3(default_policy: Policy) -> None:
    route = default_policy.routes["safe"]
    assert route.require_tier == 3
    assert all(spec.safety_tier >= 3 for spec in route.pool)


def test_warnings_in_us_east_1_are_lifecycle_ones_only() -> None:
    policy = load_policy(REPO / "policies" / "default.yaml", region="us-east-1")
    messages = [issue.message for issue in policy.warnings]
    assert messages
    others = [m for m in messages if "is legacy" not in m and "reached end of life" not in m]
    assert others == [], others


@pytest.mark.parametrize(
    ("name", "lifecycle"),
    [
        ("claude-3-haiku", "legacy"),
        ("claude-3-sonnet", "eol"),
        ("claude-3-5-sonnet", "eol"),
        ("claude-3-5-sonnet-v2", "eol"),
        ("llama3-8b", "legacy"),
        ("titan-text-express", "legacy"),
        ("claude-sonnet-4-5", "active"),
    ],
)
def test_seed_models_kept_with_their_lifecycle(
    default_policy: Policy, name: str, lifecycle: str
) -> None:
    spec = default_policy.models[name]
    assert spec.caps is not None
    assert spec.caps.lifecycle == lifecycle
    assert bool(spec.unusable) == (lifecycle == "eol")


def test_profile_only_entries_name_the_base_id_and_call_a_profile(default_policy: Policy) -> None:
    spec = default_policy.models["claude-haiku-4-5"]
    assert spec.bedrock_id == "anthropic.claude-haiku-4-5-20251001-v1:0"
    geo = spec.invocations[1]
    assert (geo.model_id, geo.scope) == ("us.anthropic.claude-haiku-4-5-20251001-v1:0", "geo")


def test_cache_prices_are_set_where_caching_exists(default_policy: Policy) -> None:
    for spec in default_policy.models.values():
        if spec.caps is None or spec.caps.lifecycle != "active" or spec.kind != "chat":
            continue
        if spec.caps.prompt_caching is not None:
            assert spec.cache_read_per_mtok is not None, spec.name


def test_current_models_are_callable_from_us_east_1(default_policy: Policy) -> None:
    for spec in default_policy.models.values():
        if spec.caps is not None and spec.caps.lifecycle == "active":
            assert spec.invocations[1].model_id is not None, spec.name
