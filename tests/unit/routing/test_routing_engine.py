"""Engine: every strategy, filter, rule and tenant case (table in fixtures/engine_cases.yaml)."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

import gateway.errors
from gateway.routing import (
    Policy,
    RouteRequest,
    actual_cost,
    allowed_names,
    choose,
    decision_to_dict,
    estimate_cost,
    tenant_for_key_hash,
)
from tests.unit.routing.routing_testkit import FakeStats, read_fixture

CASES: list[dict[str, Any]] = read_fixture("engine_cases.yaml")


def _request(fields: dict[str, Any]) -> RouteRequest:
    return RouteRequest(**{"prompt_tokens": 1000, **fields})


def _stats(spec: dict[str, Any] | None) -> FakeStats:
    spec = spec or {}
    return FakeStats(spec.get("latency"), spec.get("down", ()))


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_choose(case: dict[str, Any], engine_policy: Policy) -> None:
    request = _request(case["request"])
    stats = _stats(case.get("stats"))
    if "error" in case:
        expected = case["error"]
        error_type = getattr(gateway.errors, expected["type"])
        with pytest.raises(error_type) as info:
            choose(request, engine_policy, stats, rng=random.Random(0))
        assert type(info.value) is error_type
        assert info.value.status == expected["status"]
        assert expected.get("message", "") in info.value.message
        if "param" in expected:
            assert info.value.param == expected["param"]
        return
    decision = choose(request, engine_policy, stats, rng=random.Random(0))
    if "order" in case:
        assert [c.model.name for c in decision.candidates] == case["order"]
    for name, reason in case.get("excluded", {}).items():
        assert reason in dict(decision.excluded)[name]
    for key in ("route", "strategy", "required_tier", "rule", "timeout_s"):
        if key in case:
            assert getattr(decision, key) == case[key], key
    if "guardrail" in case:
        assert decision.guardrail is not None
        assert [decision.guardrail.id, decision.guardrail.version] == case["guardrail"]
    if "max_attempts" in case:
        assert decision.retry.max_attempts == case["max_attempts"]


def test_decision_is_frozen_and_names_the_first_candidate(engine_policy: Policy) -> None:
    decision = choose(_request({"model": "cost"}), engine_policy, FakeStats(), rng=random.Random(0))
    assert decision.model.name == "tiny"
    assert decision.est_cost_usd == pytest.approx((1000 * 0.1 + 256 * 0.1) / 1e6)
    with pytest.raises(AttributeError):
        decision.route = "other"  # type: ignore[misc]
    assert decision.retry.max_attempts == 3 and decision.timeout_s == 60
    assert decision.cache.when == "deterministic" and decision.guardrail is None


def test_decision_to_dict_lists_every_candidate(engine_policy: Policy) -> None:
    stats = FakeStats(latency={"mid": 420.0})
    request = _request({"model": "cost", "needs_tools": True, "max_tokens": 100})
    body = decision_to_dict(choose(request, engine_policy, stats, rng=random.Random(0)))
    json.dumps(body)  # serialisable as is
    assert body["route"] == "cost" and body["strategy"] == "cost"
    assert body["model"] == "nostream" and body["bedrock_id"] == "vendor.nostream-v1:0"
    assert body["required_features"] == ["tools"]
    rows = {row["model"]: row for row in body["candidates"]}
    assert list(rows) == ["nostream", "mid", "big", "tiny"]
    assert rows["nostream"]["kept"] and rows["nostream"]["rank"] == 1
    assert rows["nostream"]["reason"].startswith("chosen: estimated $0.000550")
    assert rows["mid"]["observed_latency_ms"] == 420.0 and rows["mid"]["reason"].startswith(
        "fallback 1"
    )
    assert rows["big"]["observed_latency_ms"] is None and rows["big"]["latency_ms"] == 1500
    assert rows["tiny"] == {
        "model": "tiny",
        "bedrock_id": "vendor.tiny-v1:0",
        "invocation_id": "vendor.tiny-v1:0",
        "kept": False,
        "rank": None,
        "est_cost_usd": pytest.approx(1.1e-4),
        "observed_latency_ms": None,
        "latency_ms": 300.0,
        "safety_tier": 1,
        "reason": "lacks tools",
    }


@pytest.mark.parametrize(
    ("route", "fragment"),
    [
        ("lat", "300 ms (prior)"),
        ("bal", "score 1.000"),
        ("w", "weight "),
        ("ord", "position in the route's list"),
    ],
)
def test_candidate_reasons_name_the_basis(engine_policy: Policy, route: str, fragment: str) -> None:
    decision = choose(_request({"model": route}), engine_policy, FakeStats(), rng=random.Random(3))
    assert fragment in decision.candidates[0].reason or route == "w"
    assert all(c.reason for c in decision.candidates)


@pytest.mark.parametrize(
    ("prompt", "output", "expected"),
    [(0, 0, 0.0), (1_000_000, 0, 3.0), (0, 1_000_000, 15.0), (2000, 500, 0.0135)],
)
def test_costs(engine_policy: Policy, prompt: int, output: int, expected: float) -> None:
    big = engine_policy.models["big"]
    assert estimate_cost(big, prompt, output) == pytest.approx(expected)
    assert actual_cost(big, prompt, output) == pytest.approx(expected)


def test_embedding_costs_have_no_output_price(engine_policy: Policy) -> None:
    assert actual_cost(engine_policy.models["emb"], 1_000_000, 10) == pytest.approx(0.02)


@pytest.mark.parametrize(
    ("tenant", "expected"),
    [
        ("acme", ["cost", "ord", "mid", "tiny"]),
        ("strict", ["cost", "low", "secure"]),
        ("ghost", []),
    ],
)
def test_allowed_names(engine_policy: Policy, tenant: str, expected: list[str]) -> None:
    assert sorted(allowed_names(engine_policy, tenant)) == sorted(expected)


def test_default_tenant_sees_every_route_and_model(engine_policy: Policy) -> None:
    names = allowed_names(engine_policy, "default")
    assert names[: len(engine_policy.routes)] == list(engine_policy.routes)
    assert set(names) == set(engine_policy.routes) | set(engine_policy.models)


def test_tenant_for_key_hash(engine_policy: Policy) -> None:
    digest = "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b"
    assert tenant_for_key_hash(engine_policy, digest) == "acme"
    assert tenant_for_key_hash(engine_policy, digest.upper()) == "acme"
    assert tenant_for_key_hash(engine_policy, "0" * 64) is None


def test_gateway_api_keys_belong_to_default(engine_policy: Policy) -> None:
    from gateway.routing import load_policy
    from tests.unit.routing.routing_testkit import FIXTURES

    digest = "35224d0d3465d74e855f8d69a136e79c744ea35a675d3393360a327cbf6359a2"
    policy = load_policy(FIXTURES / "engine_policy.yaml", default_key_hashes=[digest])
    assert tenant_for_key_hash(policy, digest) == "default"
    assert policy.tenants["default"].allowed is None


def test_model_for_bedrock_id_strips_profile_prefixes(default_policy: Policy) -> None:
    haiku = default_policy.models["claude-3-haiku"]
    for bedrock_id in (haiku.bedrock_id, "us." + haiku.bedrock_id, "apac." + haiku.bedrock_id):
        assert default_policy.model_for_bedrock_id(bedrock_id) is haiku
    assert default_policy.model_for_bedrock_id("vendor.unknown") is None


def test_headers_may_be_any_mapping(engine_policy: Policy) -> None:
    class Headers(dict[str, str]):
        pass

    request = RouteRequest(model="cost", headers=Headers({"x-data-class": "confidential"}))
    assert choose(request, engine_policy, FakeStats(), rng=random.Random(0)).required_tier == 3


@pytest.mark.parametrize(
    ("request_fields", "first"),
    [
        ({"model": "auto"}, "nova-micro"),
        ({"model": "cheap", "needs_images": True}, "nova-lite"),
        ({"model": "safe"}, "nova-lite"),
        ({"model": "fast", "stream": True}, "nova-micro"),
        ({"model": "embed", "kind": "embedding"}, "titan-embed-v2"),
        ({"model": "", "needs_tools": True}, "nova-micro"),
    ],
)
def test_default_policy_routes(
    default_policy: Policy, request_fields: dict[str, Any], first: str
) -> None:
    decision = choose(_request(request_fields), default_policy, FakeStats(), rng=random.Random(0))
    assert decision.model.name == first
