"""E2E: the gateway under uvicorn, the emulator as Bedrock, the official openai SDK as client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from gateway.emulator.runner import RunningEmulator
from gateway.routing.stats import LocalStats
from tests.support.servers import GatewayServer, running_gateway

POLICY = Path(__file__).parent / "policies" / "e2e.yaml"
KEY = "sk-e2e-client-key"
ADMIN_KEY = "sk-e2e-admin-key"


@pytest.fixture(scope="session")
def gateway(emulator: RunningEmulator) -> Iterator[GatewayServer]:
    with running_gateway(policies=POLICY, api_keys=KEY, admin_key=ADMIN_KEY) as server:
        yield server


@pytest.fixture(autouse=True)
def _clean_emulator(emulator: RunningEmulator) -> Iterator[None]:
    emulator.state.clear_faults()
    emulator.state.clear_behaviour()
    yield
    emulator.state.clear_faults()
    emulator.state.clear_behaviour()


@pytest.fixture(autouse=True)
def _fresh_health(gateway: GatewayServer) -> None:
    """Each test starts with closed circuits and no latency history."""
    gateway.state.stats = LocalStats()


@pytest.fixture
def client(gateway: GatewayServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=KEY, max_retries=0)


@pytest.fixture
def async_client(gateway: GatewayServer) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=KEY, max_retries=0)
