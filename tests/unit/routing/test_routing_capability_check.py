"""Routing with the capability table: ids per region and residency, limits, features the table
denies, warnings, and the bench (table-driven, against the real table's stable rows)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from gateway.errors import NoCandidateError, UpstreamUnavailableError
from gateway.routing.decision import RouteRequest
from gateway.routing.engine import choose
from gateway.routing.loader import load_policy
from gateway.routing.policy import Policy, feature_mask
from gateway.routing.stats import LocalStats

POLICY = Path(__file__).parent / "fixtures" / "capability_policy.yaml"
SONNET = "anthropic.claude-sonnet-4-5-20250929-v1:0"


def _policy(region: str) -> Policy:
    return load_policy(POLICY, region=region)


@pytest.mark.parametrize(
    ("region", "route", "model", "call_id"),
    [
        ("us-east-1", "claude", "sonnet45", f"us.{SONNET}"),
        ("eu-west-1", "claude", "sonnet45", f"eu.{SONNET}"),
        ("ap-northeast-1", "claude", "sonnet45", f"jp.{SONNET}"),
        ("ap-southeast-2", "claude", "sonnet45", f"au.{SONNET}"),
        ("us-east-1", "claude", "haiku3", "anthropic.claude-3-haiku-20240307-v1:0"),
    ],
)
def test_the_called_id_is_the_profile_the_region_needs(
    region: str, route: str, model: str, call_id: str
) -> None:
    decision = choose(
        RouteRequest(model=route), _policy(region), LocalStats(), rng=random.Random(0)
    )
    ids = {c.model.name: c.call_id for c in decision.candidates}
    assert ids[model] == call_id


@pytest.mark.parametrize(
    ("request_fields", "route", "excluded", "reason"),
    [
        ({}, "local", "sonnet45", "residency"),
        ({"forces_tool": True, "needs_tools": True}, "tools", "llama31", "lacks tool_choice"),
        ({"needs_images": True}, "tools", "llama31", "AWS: Llama 3.1 8B Instruct has no vision"),
        ({"needs_tools": True}, "all", "titan", "lacks tools"),
    ],
)
def test_the_table_excludes_with_a_reason(
    request_fields: dict[str, Any], route: str, excluded: str, reason: str
) -> None:
    request = RouteRequest(model=route, **request_fields)
    decision = choose(request, _policy("us-east-1"), LocalStats(), rng=random.Random(0))
    notes = {c.model.name: c.reason for c in decision.excluded_detail}
    assert excluded in notes, notes
    assert reason in notes[excluded]
    assert excluded not in {c.model.name for c in decision.candidates}


def test_a_forced_tool_choice_no_candidate_honours_is_a_400_naming_it() -> None:
    policy = load_policy(POLICY, region="us-east-1")
    request = RouteRequest(model="llama31", needs_tools=True, forces_tool=True)
    with pytest.raises(NoCandidateError, match="tool_choice"):
        choose(request, policy, LocalStats(), rng=random.Random(0))


def test_compile_caps_limits_and_drops_what_the_table_denies() -> None:
    policy = _policy("us-east-1")
    llama = policy.models["llama31"]
    assert llama.max_output_tokens == 2048
    assert not llama.feature_mask & feature_mask(["vision"])
    assert not llama.feature_mask & feature_mask(["tool_choice"])
    assert policy.models["haiku3"].feature_mask & feature_mask(["tool_choice"])
    assert policy.models["vendor"].feature_mask & feature_mask(["tool_choice"])  # as written


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("models.llama31.max_output_tokens", "exceeds Llama 3.1 8B Instruct's maximum of 2048"),
        ("models.llama31.features", "AWS documents no vision"),
        ("models.vendor.bedrock_id", "not in the capability table"),
    ],
)
def test_uses_against_the_table_are_located_warnings(path: str, text: str) -> None:
    warnings = {w.path: w for w in _policy("us-east-1").warnings}
    assert path in warnings, list(warnings)
    assert text in warnings[path].message
    assert warnings[path].line is not None
    assert "tool_choice" not in warnings["models.llama31.features"].message  # implied, not declared


def test_a_benched_model_is_skipped_then_back_after_the_bench() -> None:
    stats = LocalStats()
    policy = _policy("us-east-1")
    stats.bench.bench("haiku3", "Bedrock refused model access denied", seconds=60)
    decision = choose(RouteRequest(model="claude"), policy, stats, rng=random.Random(0))
    assert [c.model.name for c in decision.candidates] == ["sonnet45"]
    assert stats.bench.lift("haiku3") == 1
    decision = choose(RouteRequest(model="claude"), policy, stats, rng=random.Random(0))
    assert decision.candidates[0].model.name == "haiku3"


def test_only_benched_candidates_left_is_a_503() -> None:
    stats = LocalStats()
    stats.bench.bench("haiku3", "end of life", seconds=60)
    with pytest.raises(UpstreamUnavailableError, match="benched"):
        choose(RouteRequest(model="haiku3"), _policy("us-east-1"), stats, rng=random.Random(0))


def test_a_feature_bench_skips_only_requests_needing_it() -> None:
    stats = LocalStats()
    policy = _policy("us-east-1")
    stats.bench.bench("haiku3", "no tools", seconds=60, features=feature_mask(["tools"]))
    plain = choose(RouteRequest(model="claude"), policy, stats, rng=random.Random(0))
    assert plain.candidates[0].model.name == "haiku3"
    tools = choose(
        RouteRequest(model="claude", needs_tools=True), policy, stats, rng=random.Random(0)
    )
    assert [c.model.name for c in tools.candidates] == ["sonnet45"]
