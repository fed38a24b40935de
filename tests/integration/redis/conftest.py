"""Tests: real redis-server processes and connections on them, one key prefix per test."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator

import pytest

from gateway.cache.redis_client import RedisConnection
from tests.support.redis_server import RedisServer, redis_binary, running_redis

if redis_binary() is None:  # pragma: no cover - the dev image has it
    pytest.skip("redis-server is not on PATH", allow_module_level=True)

TIMEOUT_S = 2.0  # a healthy Redis under a loaded CI machine: never the fail-open path


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One server shared by the tests that never stop it (they isolate by prefix)."""
    with running_redis() as server:
        yield server


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A server of this test's own, free to kill and restart."""
    with running_redis() as server:
        yield server


@pytest.fixture
def prefix() -> str:
    return f"gwt-{uuid.uuid4().hex[:8]}:"


@pytest.fixture
def errors() -> Counter[str]:
    return Counter()


@pytest.fixture
async def conn(
    redis_server: RedisServer, prefix: str, errors: Counter[str]
) -> AsyncIterator[RedisConnection]:
    connection = RedisConnection.from_url(
        redis_server.url,
        timeout_s=TIMEOUT_S,
        prefix=prefix,
        on_error=lambda op: errors.update([op]),
    )
    yield connection
    await connection.close()


@pytest.fixture
async def conn2(redis_server: RedisServer, prefix: str) -> AsyncIterator[RedisConnection]:
    """A second connection on the same server and prefix: another replica."""
    connection = RedisConnection.from_url(redis_server.url, timeout_s=TIMEOUT_S, prefix=prefix)
    yield connection
    await connection.close()
