"""Emulator: integration fixtures — one strict emulator thread per session (tests marked
``lenient`` flip it) and boto3's real clients."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from gateway.emulator.credentials import (
    EMULATOR_ACCESS_KEY_ID,
    EMULATOR_REGION,
    EMULATOR_SECRET_ACCESS_KEY,
)
from gateway.emulator.runner import RunningEmulator, start_emulator_in_thread

Control = Callable[..., tuple[int, Any]]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "lenient: run against the emulator in lenient mode (any model id)"
    )


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[RunningEmulator]:
    with start_emulator_in_thread(strict=True) as running:
        yield running


@pytest.fixture(autouse=True)
def _fresh_state(request: pytest.FixtureRequest, emulator_server: RunningEmulator) -> None:
    """Strict mode unless the test is marked ``lenient``; no faults, behaviours, denials."""
    emulator_server.state.strict = request.node.get_closest_marker("lenient") is None
    emulator_server.state.reset_access()
    emulator_server.state.clear_faults()
    emulator_server.state.clear_behaviour()
    emulator_server.state.reset_calls()


@pytest.fixture(scope="session")
def make_client(emulator_server: RunningEmulator) -> Callable[..., Any]:
    """make_client(key_id=..., secret=..., **Config kwargs) -> a bedrock-runtime client."""

    def build(
        key_id: str = EMULATOR_ACCESS_KEY_ID,
        secret: str = EMULATOR_SECRET_ACCESS_KEY,
        **config: Any,
    ) -> Any:
        return boto3.client(
            "bedrock-runtime",
            endpoint_url=emulator_server.url,
            region_name=EMULATOR_REGION,
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
            config=Config(retries={"total_max_attempts": 1}, **config),
        )

    return build


@pytest.fixture(scope="session")
def bedrock(make_client: Callable[..., Any]) -> Any:
    return make_client()


@pytest.fixture()
def control(emulator_server: RunningEmulator) -> Control:
    """Call the control API over HTTP: control("PUT", "/faults/x", {...}) -> (status, json)."""

    def call(method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            emulator_server.url + "/_emulator" + path, data=data, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    return call
