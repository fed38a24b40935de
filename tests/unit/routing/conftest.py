"""Shared fixtures for the routing unit tests."""

from __future__ import annotations

import pytest

from gateway.routing import Policy, load_policy
from tests.unit.routing.routing_testkit import FIXTURES, REPO


@pytest.fixture(scope="session")
def default_policy() -> Policy:
    return load_policy(REPO / "policies" / "default.yaml")


@pytest.fixture(scope="session")
def engine_policy() -> Policy:
    return load_policy(FIXTURES / "engine_policy.yaml")
