"""Unit: one warning per Redis outage, also when calls in flight succeed after one failed."""

from __future__ import annotations

import asyncio
import logging

import pytest
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from gateway.cache.redis_client import RedisConnection


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_a_call_in_flight_that_succeeds_does_not_end_the_outage(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.redis")
    clock = Clock()
    conn = RedisConnection(Redis(), timeout_s=5, pause_s=1.0, clock=clock)
    release = asyncio.Event()

    async def slow_ok(_r: Redis) -> str:
        await release.wait()
        return "ok"

    async def wrong_type(_r: Redis) -> str:
        raise ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value")

    in_flight = [asyncio.create_task(conn.run("a", slow_ok)) for _ in range(3)]
    await asyncio.sleep(0)
    assert await conn.run("b", wrong_type) is None
    release.set()
    assert await asyncio.gather(*in_flight) == ["ok"] * 3
    assert not conn.healthy  # the outage goes on until a probe succeeds
    assert await conn.run("b", wrong_type) is None  # paused: not even sent
    clock.now = 2.0
    assert await conn.run("c", slow_ok) == "ok"  # the probe
    assert conn.healthy
    lines = [r.getMessage() for r in caplog.records if r.name == "gateway.redis"]
    assert [line.split(" ")[1] for line in lines] == ["unavailable", "available"], lines
    await conn.client.aclose()
