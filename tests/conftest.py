"""Tests: session-wide servers — the Bedrock emulator on loopback and the AWS env that finds it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gateway.emulator.credentials import (
    EMULATOR_ACCESS_KEY_ID,
    EMULATOR_REGION,
    EMULATOR_SECRET_ACCESS_KEY,
)
from gateway.emulator.runner import RunningEmulator, start_emulator_in_thread
from tests.support.servers import aws_env


@pytest.fixture(scope="session")
def emulator() -> Iterator[RunningEmulator]:
    running = start_emulator_in_thread("127.0.0.1", 0, strict=True)
    env = {
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": running.url,
        "AWS_ACCESS_KEY_ID": EMULATOR_ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": EMULATOR_SECRET_ACCESS_KEY,
        "AWS_REGION": EMULATOR_REGION,
    }
    with aws_env(env):
        yield running
    running.stop()
