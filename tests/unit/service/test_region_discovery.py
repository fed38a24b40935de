"""API: the background discovery's rules — benches replace the last discovery's, a failure
keeps the last known offer with one warning, an answer excluding every chat model is not
believed, and a reload or a fresh stats object gets the last offer re-applied."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace

import pytest
import yaml

from gateway.app import build_state
from gateway.config import Settings
from gateway.errors import DiscoveryError
from gateway.routing.offer import Offer
from gateway.routing.stats import LocalStats
from gateway.service.region_discovery import SOURCE, RegionDiscovery
from tests.unit.routing.offer_kit import REGION, UNKNOWN_ID, full_offer, on_demand_row


class Script:
    """The listings, one scripted answer per discovery (an Offer or a DiscoveryError)."""

    def __init__(self, *answers: Offer | DiscoveryError) -> None:
        self.answers = list(answers)

    async def __call__(self) -> Offer:
        answer = self.answers.pop(0)
        if isinstance(answer, DiscoveryError):
            raise answer
        return answer


def _benched(discovery: RegionDiscovery) -> dict[str, str]:
    state = discovery._state
    return {e.model: e.reason for e in state.stats.bench.active() if e.source == SOURCE}


@pytest.fixture
def state(tmp_path):  # type: ignore[no-untyped-def]
    from tests.unit.routing.offer_kit import policy

    compiled = policy()
    doc = {
        "version": 1,
        "models": {
            name: {
                "bedrock_id": spec.bedrock_id,
                "price": {"input_per_mtok": 1.0, "output_per_mtok": 2.0},
                "context_window": spec.context_window,
                "max_output_tokens": 1024,
            }
            for name, spec in compiled.models.items()
        },
    }
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return build_state(Settings(policies=path, api_keys="k"))


def _discovery(state, script: Script) -> RegionDiscovery:  # type: ignore[no-untyped-def]
    return RegionDiscovery(state, region=REGION, interval_s=300, timeout_s=1, fetch=script)


def _lacking(*ids: str) -> Offer:
    offer = full_offer(1.0)
    return replace(offer, on_demand=offer.on_demand - set(ids))


@pytest.fixture(autouse=True)
def _region(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_REGION", REGION)
    yield


async def test_each_success_replaces_the_last_discoverys_benches(state) -> None:  # type: ignore[no-untyped-def]
    discovery = _discovery(state, Script(_lacking(UNKNOWN_ID), _lacking(on_demand_row().base_id)))
    assert await discovery.run_once()
    assert set(_benched(discovery)) == {"x"}
    assert await discovery.run_once()
    assert set(_benched(discovery)) == {"a"}
    assert (
        state.metrics.registry.get_sample_value("gateway_discovery_last_success_timestamp_seconds")
        == 1.0
    )


async def test_a_failure_keeps_the_last_offer_and_logs_one_warning(
    state, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    discovery = _discovery(state, Script(_lacking(UNKNOWN_ID), DiscoveryError("boom")))
    assert await discovery.run_once()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="gateway.discovery"):
        assert not await discovery.run_once()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "boom" in warnings[0].getMessage()
    assert "last known offer stays" in warnings[0].getMessage()
    assert set(_benched(discovery)) == {"x"}
    assert state.metrics.registry.get_sample_value("gateway_discovery_failures_total") == 1.0


async def test_an_empty_answer_is_a_failure(state) -> None:  # type: ignore[no-untyped-def]
    empty = Offer(REGION, 1.0, frozenset(), frozenset())
    discovery = _discovery(state, Script(empty))
    assert not await discovery.run_once()
    assert discovery.offer is None and _benched(discovery) == {}


async def test_an_answer_excluding_every_chat_model_is_not_believed(state) -> None:  # type: ignore[no-untyped-def]
    nothing = Offer(REGION, 1.0, frozenset({"vendor.elsewhere-v1"}), frozenset())
    discovery = _discovery(state, Script(nothing))
    assert await discovery.run_once()
    assert _benched(discovery) == {}


async def test_fresh_stats_get_the_last_offer_again(state) -> None:  # type: ignore[no-untyped-def]
    discovery = _discovery(state, Script(_lacking(UNKNOWN_ID)))
    await discovery.run_once()
    assert not discovery._stale()
    state.stats = LocalStats()
    assert discovery._stale()
    discovery.apply()
    assert set(_benched(discovery)) == {"x"}


def test_the_policy_is_compiled_for_the_configured_region(
    state, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    from gateway.api.admin import reload_policy

    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    moved = build_state(state.settings)
    assert moved.region == "eu-west-1" and moved.policy.region == "eu-west-1"
    reload_policy(moved)
    assert moved.policy.region == "eu-west-1"
    assert state.policy.region == REGION
