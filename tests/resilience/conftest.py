"""Resilience: a gateway on the session emulator, with clean faults and health per test."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from gateway.emulator.runner import RunningEmulator
from gateway.routing.stats import LocalStats
from tests.resilience.helpers import ADMIN_KEY, KEY, write_policy
from tests.support.servers import GatewayServer, running_gateway


@pytest.fixture(scope="session")
def gateway(
    emulator: RunningEmulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayServer]:
    policy = write_policy(tmp_path_factory.mktemp("resilience-policy"), timeout_s=10)
    with running_gateway(policies=policy, api_keys=KEY, admin_key=ADMIN_KEY) as server:
        yield server


@pytest.fixture(scope="session")
def short_gateway(
    emulator: RunningEmulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayServer]:
    """The same policy with a 1 s route deadline (hang and slow-first-byte scenarios)."""
    policy = write_policy(tmp_path_factory.mktemp("resilience-short"), timeout_s=1)
    with running_gateway(policies=policy, api_keys=KEY) as server:
        yield server


@pytest.fixture(autouse=True)
def _clean_emulator(emulator: RunningEmulator) -> Iterator[None]:
    emulator.state.clear_faults()
    emulator.state.clear_behaviour()
    yield
    emulator.state.clear_faults()
    emulator.state.clear_behaviour()


@pytest.fixture(autouse=True)
def _fresh_health(request: pytest.FixtureRequest) -> None:
    """Closed circuits and no latency history in every gateway a test uses."""
    for name in ("gateway", "short_gateway"):
        if name in request.fixturenames:
            server: GatewayServer = request.getfixturevalue(name)
            server.state.stats = LocalStats()


@pytest.fixture
def client(gateway: GatewayServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=KEY, max_retries=0, timeout=30)


@pytest.fixture(scope="module")
def plain_gateway(
    emulator: RunningEmulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayServer]:
    """No admin key, no CORS origins: the defaults."""
    policy = write_policy(tmp_path_factory.mktemp("plain-policy"))
    with running_gateway(policies=policy, api_keys=KEY) as server:
        yield server
