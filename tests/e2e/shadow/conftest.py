"""E2E (shadow): the gateway with its ShadowRunner, against the emulator.

``create_app`` wires shadowing (routers, ``gateway_shadow_*`` families, the runner); these
fixtures swap in runners with seeded sampling and fresh stores so that each test's figures are
its own. The ``gateway`` fixture overrides ``tests/e2e``'s for this folder, so its autouse
fixtures apply here too.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from gateway.config import Settings
from gateway.emulator.runner import RunningEmulator
from gateway.shadow.metrics import ShadowMetrics
from gateway.shadow.runner import ShadowRunner
from gateway.shadow.stats_store import MemoryShadowStore
from tests.support.servers import GatewayServer

POLICY = Path(__file__).parent / "policies" / "shadow.yaml"
KEY = "sk-e2e-client-key"
ADMIN_KEY = "sk-e2e-admin-key"
KIDS_KEY = "sk-e2e-kids"
PRIVATE_KEY = "sk-e2e-private"
SEED = 7


def wire_shadow(server: GatewayServer, **settings: Any) -> ShadowMetrics:
    """Replace the app's runner with one that samples from a seeded generator."""
    metrics: ShadowMetrics = server.state.shadow.metrics
    server.state.shadow = ShadowRunner(server.state, metrics=metrics, rng=random.Random(SEED))
    return metrics


def start_gateway(**overrides: Any) -> tuple[GatewayServer, ShadowMetrics]:
    settings = Settings(policies=POLICY, api_keys=KEY, admin_key=ADMIN_KEY, **overrides)
    server = GatewayServer(settings)
    metrics = wire_shadow(server)
    server.start()
    return server, metrics


@pytest.fixture(scope="session")
def shadow_server(emulator: RunningEmulator) -> Iterator[tuple[GatewayServer, ShadowMetrics]]:
    server, metrics = start_gateway()
    try:
        yield server, metrics
    finally:
        server.stop()


@pytest.fixture(scope="session")
def gateway(shadow_server: tuple[GatewayServer, ShadowMetrics]) -> GatewayServer:
    return shadow_server[0]


@pytest.fixture
def runner(shadow_server: tuple[GatewayServer, ShadowMetrics]) -> ShadowRunner:
    """A fresh runner (empty memory store, seeded sampling) for each test."""
    server, metrics = shadow_server
    fresh = ShadowRunner(
        server.state, metrics=metrics, store=MemoryShadowStore(), rng=random.Random(SEED)
    )
    server.state.shadow = fresh
    return fresh


@pytest.fixture
def http(gateway: GatewayServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, timeout=30) as client:
        yield client


def chat(
    http: httpx.Client,
    body: dict[str, Any],
    *,
    key: str = KEY,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    sent = {"authorization": f"Bearer {key}", **(headers or {})}
    response = http.post("/v1/chat/completions", json=body, headers=sent)
    response.read()
    return response


def report(http: httpx.Client) -> dict[str, Any]:
    response = http.get("/v1/gateway/shadow", headers={"authorization": f"Bearer {ADMIN_KEY}"})
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def settled_report(
    http: httpx.Client,
    done: Callable[[dict[str, Any]], bool] = lambda _: True,
    timeout: float = 15.0,
) -> dict[str, Any]:
    """The report once no shadow call runs and ``done`` holds (polled)."""
    deadline = time.monotonic() + timeout
    while True:
        data = report(http)
        idle = all(route["in_flight"] == 0 for route in data["routes"].values())
        if idle and done(data):
            return data
        if time.monotonic() > deadline:
            raise AssertionError(f"shadow work did not settle: {data}")
        time.sleep(0.02)


def pair(data: dict[str, Any], route: str, primary: str, shadow: str) -> dict[str, Any]:
    entry: dict[str, Any] = data["routes"][route]["primaries"][primary]["shadows"][shadow]
    return entry


def calls_of(data: dict[str, Any], route: str) -> int:
    return sum(
        s["calls"]
        for p in data["routes"][route]["primaries"].values()
        for s in p["shadows"].values()
    )
