"""Routing: the region's offer (control-plane listings) against the catalogue — which
models discovery benches, with what reason, and how those benches live and go."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from gateway.routing.bench import ModelBench
from gateway.routing.offer import Offer, is_offered, not_offered, offer_reason
from tests.unit.routing.offer_kit import (
    APP_PROFILE_ARN,
    FOUNDATION_ARN,
    PROVISIONED_ARN,
    REGION,
    UNKNOWN_ID,
    full_offer,
    on_demand_row,
    policy,
    profile_id,
    profile_row,
)
from tests.unit.routing.routing_testkit import FakeClock


def _without(
    offer: Offer, *, on_demand: frozenset[str] = frozenset(), profiles: frozenset[str] = frozenset()
) -> Offer:
    return replace(offer, on_demand=offer.on_demand - on_demand, profiles=offer.profiles - profiles)


def _with(offer: Offer, *, on_demand: frozenset[str] = frozenset()) -> Offer:
    return replace(offer, on_demand=offer.on_demand | on_demand)


CASES = [
    ("everything offered", lambda o: o, set()),
    ("base id not on demand", lambda o: _without(o, on_demand={on_demand_row().base_id}), {"a"}),
    (
        "the profile the compiler chose is missing",
        lambda o: _without(o, profiles={profile_id("geo"), profile_id("global")}),
        {"p"},
    ),
    (
        "base id on demand does not help a model called by profile",
        lambda o: _with(
            _without(o, profiles={profile_id("geo"), profile_id("global")}),
            on_demand={profile_row().base_id},
        ),
        {"p"},
    ),
    (
        "a model the table does not know is checked as written",
        lambda o: _without(o, on_demand={UNKNOWN_ID}),
        {"x"},
    ),
    (
        "a foundation-model ARN is checked by its model id",
        lambda o: _without(o, on_demand={"vendor.other-model-v1"}),
        {"fm"},
    ),
    (
        "an application profile ARN is checked",
        lambda o: _without(o, profiles={APP_PROFILE_ARN}),
        {"app"},
    ),
]


@pytest.mark.parametrize(("case", "change", "expected"), CASES, ids=[c[0] for c in CASES])
def test_not_offered_names_the_models_the_region_lacks(case, change, expected) -> None:
    compiled = policy()
    reasons = not_offered(compiled.models, change(full_offer()), REGION)
    assert set(reasons) == expected, case


def test_an_empty_answer_benches_nothing() -> None:
    empty = Offer(REGION, 0.0, frozenset(), frozenset())
    assert empty.empty
    assert not_offered(policy().models, empty, REGION) == {}


def test_end_of_life_and_unjudged_models_are_never_benched_by_discovery() -> None:
    compiled = policy()
    models = dict(compiled.models)
    models["a"] = replace(models["a"], unusable="end of life since 2025-01-01")
    nothing = Offer(REGION, 0.0, frozenset({"some.other-model-v1"}), frozenset())
    reasons = not_offered(models, nothing, REGION)
    assert "a" not in reasons  # end of life: already never called
    assert "prov" not in reasons  # a provisioned model: the listings cannot tell
    assert {"p", "x", "fm", "app"} <= set(reasons)


@pytest.mark.parametrize(
    ("model_id", "offered"),
    [
        (UNKNOWN_ID, True),
        ("vendor.absent-v1", False),
        (FOUNDATION_ARN, True),
        (f"arn:aws:bedrock:{REGION}::foundation-model/vendor.absent-v1", False),
        (APP_PROFILE_ARN, True),
        (f"arn:aws:bedrock:{REGION}:123456789012:inference-profile/{profile_id()}", True),
        (f"eu.{on_demand_row().base_id}", False),
        (PROVISIONED_ARN, True),
    ],
)
def test_is_offered(model_id: str, offered: bool) -> None:
    assert is_offered(model_id, full_offer()) is offered


def test_the_reason_names_region_ids_and_listing_time() -> None:
    reasons = not_offered(
        policy().models, _without(full_offer(49500.0), on_demand={UNKNOWN_ID}), REGION
    )
    assert reasons["x"] == (
        f"not offered in {REGION}: {UNKNOWN_ID} "
        "(ListFoundationModels/ListInferenceProfiles at 13:45Z)"
    )
    assert offer_reason("eu-west-1", 0.0, ["a", "b"]).startswith("not offered in eu-west-1: a, b")


def test_discovery_benches_last_until_replaced_and_spare_refusal_benches() -> None:
    clock = FakeClock()
    bench = ModelBench(clock)
    bench.bench("a", "AccessDenied", seconds=60)
    bench.replace_source("discovery", {"a": "not offered here", "b": "not offered here"})
    assert bench.reason("b", 0) == "benched: not offered here"
    clock.advance(3600 * 24)
    assert bench.reason("b", 0) == "benched: not offered here"  # no expiry of its own
    assert {e.until for e in bench.active() if e.source == "discovery"} == {math.inf}
    bench.bench("c", "end of life", seconds=math.inf)
    bench.replace_source("discovery", {})
    assert bench.reason("b", 0) == ""
    assert bench.reason("c", 0) == "benched: end of life"  # a refusal's bench is not touched


def test_a_refusal_bench_and_a_discovery_bench_of_one_model_coexist() -> None:
    bench = ModelBench(FakeClock())
    bench.replace_source("discovery", {"a": "not offered"})
    bench.bench("a", "ModelNotReady", seconds=30)
    bench.replace_source("discovery", {})
    assert bench.reason("a", 0) == "benched: ModelNotReady"
