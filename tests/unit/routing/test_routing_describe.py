"""describe_policy: the table ``gateway check-policy`` prints."""

from __future__ import annotations

import pytest

from gateway.routing import Policy, describe_policy


@pytest.mark.parametrize(
    "fragment",
    [
        "45 models (40 chat, 5 embedding), 5 routes, 3 rules, 1 tenant; default route: auto",
        "route auto: balanced (cost 0.5 / latency 0.5;",
        "route fast: latency (explore 0.05;",
        "route safe: cost (tier >= 3;",
        "anthropic.claude-haiku-4-5-20251001-v1:0",
        "1 / 5",
        "200000",
        "tenant default: 0 keys, routes *, tier >= 1",
    ],
)
def test_default_policy_table(default_policy: Policy, fragment: str) -> None:
    assert fragment in describe_policy(default_policy)


@pytest.mark.parametrize(
    "fragment",
    [
        "route secure: cost (tier >= 3; guardrail gr-1 v2; timeout 5s, 2 attempts)",
        "excluded by the route's requirements: tiny (safety_tier 1 < required 3)",
        "route toolsy: cost (needs tools;",
        "mid (w 3)",
        "rule 0: when header x-data-class=confidential -> tier >= 3",
        "rule 2: when tenant=acme and model=special -> route ord",
        "tenant strict: 1 key, routes cost, low, secure, tier >= 3",
    ],
)
def test_engine_policy_table(engine_policy: Policy, fragment: str) -> None:
    assert fragment in describe_policy(engine_policy)


def test_every_route_and_candidate_is_listed(default_policy: Policy) -> None:
    text = describe_policy(default_policy)
    for route in default_policy.routes.values():
        section = text.split(f"route {route.name}:", 1)[1].split("\nroute ", 1)[0]
        for model in route.pool:
            assert model.bedrock_id in section


def test_shadow_block_is_described() -> None:
    from pathlib import Path

    from gateway.routing import load_policy

    example = Path(__file__).parents[3] / "policies" / "examples" / "shadow.yaml"
    text = describe_policy(load_policy(example))
    assert "shadow: nova-lite, llama3-70b, mistral-large (share 5%, at most 8 in flight" in text
