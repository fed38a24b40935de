"""Routing levers: what a call sends per model, what it costs, and what the estimate counts."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from gateway.capabilities import capabilities_for
from gateway.errors import InvalidRequestError
from gateway.routing import RouteRequest, choose
from gateway.routing.levers import (
    CallLevers,
    Levers,
    Price,
    call_cost,
    call_levers,
    price_of,
    requested_tier,
)
from gateway.routing.loader import load_policy, load_policy_texts
from gateway.routing.schema import PolicyError
from tests.unit.routing.routing_testkit import FakeStats

GPT_OSS = capabilities_for("openai.gpt-oss-20b-1:0")
LLAMA70 = capabilities_for("meta.llama3-1-70b-instruct-v1:0")
SONNET = capabilities_for("anthropic.claude-sonnet-4-5-20250929-v1:0")
FLEX = Price(0.035, 0.15)
OPTIMIZED = Price(1.0, 5.0)

LEVER_CASES: list[tuple[str, Levers, Any, dict[str, Price], str, str | None, CallLevers]] = [
    ("route default tier", Levers(service_tier="flex"), GPT_OSS, {"flex": FLEX}, "us-east-1", None,
     CallLevers(service_tier="flex")),
    ("client tier wins", Levers(service_tier="flex"), GPT_OSS, {"flex": FLEX, "priority": FLEX},
     "us-east-1", "priority", CallLevers(service_tier="priority")),
    ("client default", Levers(service_tier="flex"), GPT_OSS, {"flex": FLEX}, "us-east-1", "default",
     CallLevers()),
    ("tier without a price is not sent", Levers(service_tier="flex"), GPT_OSS, {}, "us-east-1",
     None, CallLevers()),
    ("tier the model lacks is not sent", Levers(service_tier="flex"), SONNET, {"flex": FLEX},
     "us-east-1", None, CallLevers(prompt_cache=True)),
    ("latency optimized in an offering region", Levers(latency_optimized=True), LLAMA70,
     {"latency_optimized": OPTIMIZED}, "us-west-2", None, CallLevers(latency_optimized=True)),
    ("latency optimized elsewhere: standard", Levers(latency_optimized=True), LLAMA70,
     {"latency_optimized": OPTIMIZED}, "us-east-1", None, CallLevers()),
    ("latency optimized without a price: standard", Levers(latency_optimized=True), LLAMA70, {},
     "us-west-2", None, CallLevers()),
    ("prompt cache off", Levers(prompt_cache=False), SONNET, {}, "us-east-1", None, CallLevers()),
    ("unknown model: nothing", Levers(service_tier="flex"), None, {"flex": FLEX}, "us-east-1", None,
     CallLevers()),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "levers", "caps", "prices", "region", "tier", "expected"),
    LEVER_CASES,
    ids=[c[0] for c in LEVER_CASES],
)
def test_call_levers(
    name: str,
    levers: Levers,
    caps: Any,
    prices: dict[str, Price],
    region: str,
    tier: str | None,
    expected: CallLevers,
) -> None:
    assert call_levers(levers, caps, prices, region, tier) == expected, name


BASE = Price(3.0, 15.0, 0.3, 3.75)
COST_CASES = [
    ("no cache", BASE, (1000, 100, 0, 0), (1000 * 3.0 + 100 * 15.0) / 1e6),
    ("reads", BASE, (1000, 100, 800, 0), (200 * 3.0 + 800 * 0.3 + 100 * 15.0) / 1e6),
    ("writes", BASE, (1000, 100, 0, 800), (200 * 3.0 + 800 * 3.75 + 100 * 15.0) / 1e6),
    ("no cache prices: input price", Price(1.0, 2.0), (1000, 10, 500, 300), (1000 + 20) / 1e6),
]


@pytest.mark.parametrize(
    ("name", "price", "tokens", "usd"), COST_CASES, ids=[c[0] for c in COST_CASES]
)
def test_call_cost(name: str, price: Price, tokens: tuple[int, int, int, int], usd: float) -> None:
    prompt, output, read, write = tokens
    assert call_cost(price, prompt, output, read, write) == pytest.approx(usd), name


def test_price_of_tier_and_latency() -> None:
    prices = {"flex": FLEX, "latency_optimized": OPTIMIZED}
    assert price_of(BASE, prices, "flex", False) == FLEX
    assert price_of(BASE, prices, "default", False) == BASE
    assert price_of(BASE, prices, "priority", False) == BASE  # unpriced: served default
    assert price_of(BASE, prices, "default", True) == OPTIMIZED


@pytest.mark.parametrize(
    ("value", "expected"), [(None, None), ("auto", None), ("flex", "flex"), ("default", "default")]
)
def test_requested_tier(value: str | None, expected: str | None) -> None:
    assert requested_tier(value) == expected


def test_unknown_requested_tier_is_a_400() -> None:
    with pytest.raises(InvalidRequestError) as info:
        requested_tier("scale")
    assert info.value.param == "service_tier"


POLICY = """
version: 1
models:
  sonnet:
    bedrock_id: us.anthropic.claude-sonnet-4-5-20250929-v1:0
    price: {input_per_mtok: 3.0, output_per_mtok: 15.0, cache_read_per_mtok: 0.3}
    context_window: 200000
  oss:
    bedrock_id: openai.gpt-oss-20b-1:0
    price:
      input_per_mtok: 0.07
      output_per_mtok: 0.3
      flex: {input_per_mtok: 0.035, output_per_mtok: 0.15}
    context_window: 128000
routes:
  cached: {strategy: ordered, candidates: [sonnet]}
  plain: {strategy: ordered, candidates: [sonnet], prompt_cache: off}
  batch: {strategy: ordered, candidates: [oss], service_tier: flex, extra_fields: [top_k]}
defaults: {route: cached}
"""


def test_policy_levers_compile_yaml_off_included() -> None:
    policy = load_policy_texts([("p.yaml", POLICY)])
    assert policy.routes["cached"].levers == Levers()
    assert policy.routes["plain"].levers.prompt_cache is False  # unquoted YAML off
    assert policy.routes["batch"].levers == Levers(
        service_tier="flex", extra_fields=frozenset({"top_k"})
    )
    assert policy.models["oss"].tier_price_map == {"flex": FLEX}
    assert policy.extra_fields == frozenset({"top_k"})


@pytest.mark.parametrize(
    ("route", "message"),
    [
        ("{strategy: ordered, candidates: [sonnet], service_tier: turbo}", "service_tier"),
        ("{strategy: ordered, candidates: [sonnet], latency: fast}", "latency"),
        ("{strategy: ordered, candidates: [sonnet], extra_fields: [top-k]}", "extra_fields"),
    ],
)
def test_bad_levers_are_policy_errors(route: str, message: str) -> None:
    text = POLICY.replace("{strategy: ordered, candidates: [sonnet], prompt_cache: off}", route)
    with pytest.raises(PolicyError) as info:
        load_policy_texts([("p.yaml", text)])
    assert message in str(info.value)


def _estimate(route: str, **fields: Any) -> float:
    policy = load_policy_texts([("p.yaml", POLICY)])
    request = RouteRequest(model=route, prompt_tokens=2000, max_tokens=100, **fields)
    return choose(request, policy, FakeStats(None, ()), rng=random.Random(0)).est_cost_usd


ESTIMATE_CASES = [
    ("cold prefix", "cached", {}, (2000 * 3.0 + 100 * 15.0) / 1e6),
    ("warm prefix read at the cache price", "cached", {"cached_prefix": {"sonnet": 1500}},
     (500 * 3.0 + 1500 * 0.3 + 100 * 15.0) / 1e6),
    ("warm prefix of another model: not counted", "cached", {"cached_prefix": {"oss": 1500}},
     (2000 * 3.0 + 100 * 15.0) / 1e6),
    ("route tier price", "batch", {}, (2000 * 0.035 + 100 * 0.15) / 1e6),
    ("client tier default", "batch", {"service_tier": "default"}, (2000 * 0.07 + 100 * 0.3) / 1e6),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "route", "fields", "usd"), ESTIMATE_CASES, ids=[c[0] for c in ESTIMATE_CASES]
)
def test_estimate(name: str, route: str, fields: dict[str, Any], usd: float) -> None:
    assert _estimate(route, **fields) == pytest.approx(usd), name


def test_the_saving_money_example_policy_compiles_cleanly() -> None:
    path = Path(__file__).resolve().parents[3] / "load" / "examples" / "saving-money.yaml"
    policy = load_policy(path, region="us-west-2")
    assert policy.warnings == ()
    assert policy.routes["sonnet"].levers.prompt_cache is False
    assert policy.routes["oss-flex"].levers.service_tier == "flex"
