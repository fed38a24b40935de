"""Resilience: a burst of concurrent connections is served or refused cleanly, pool bounded."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.emulator.runner import RunningEmulator
from load.burst import KEY as LOAD_KEY
from load.burst import POLICY, Sampler, burst, run_burst
from tests.resilience.helpers import HAIKU, wait_pool_idle
from tests.support.servers import GatewayServer, running_gateway

CONNECTIONS = 200  # load/burst.py runs 500 (see the README's reliability section)
POOL = 16
DELAY_MS = 100


def test_burst_against_a_gateway_process(emulator: RunningEmulator) -> None:
    """The script's own run, smaller: every connection served or cleanly refused."""
    result = run_burst(connections=CONNECTIONS, pool=POOL, delay_ms=DELAY_MS, emulator=emulator)
    assert result.unclean == []
    assert sum(result.outcomes.values()) == CONNECTIONS
    assert result.upstream_samples > 10
    assert 0 < result.max_upstream <= POOL, result.summary()
    assert result.healthy_after


@pytest.fixture
def pooled_gateway(emulator: RunningEmulator, tmp_path: Path) -> Iterator[GatewayServer]:
    (tmp_path / "load.yaml").write_text(POLICY)
    with running_gateway(
        policies=tmp_path / "load.yaml", api_keys=LOAD_KEY, upstream_pool_size=POOL
    ) as server:
        yield server


def test_burst_never_takes_more_than_the_pool(
    pooled_gateway: GatewayServer, emulator: RunningEmulator
) -> None:
    """The same burst in-process, watching the connector itself: ``in_use`` stays bounded."""
    bedrock = pooled_gateway.state.bedrock
    assert bedrock.pool_stats()["limit"] == POOL
    emulator.state.set_fault(HAIKU, "slow", delay_ms=DELAY_MS)
    with Sampler(lambda: bedrock.pool_stats()["in_use"], interval_s=0.005) as sampler:
        outcomes, unclean, _elapsed = asyncio.run(burst(pooled_gateway.url, CONNECTIONS))
    assert unclean == []
    assert sum(outcomes.values()) == CONNECTIONS
    assert sampler.samples > 10
    assert 0 < sampler.maximum <= POOL
    wait_pool_idle(pooled_gateway)
