"""E2E: Redis that answers, but not what the gateway expects — wrong-type keys planted under the
gateway's prefix (a real redis-server), and a Redis-compatible proxy that replies with
unexpected RESP types (a tiny asyncio server speaking the protocol). Every such reply is a
Redis failure: the request is served (uncached, local limits), never a 500 or a long wait."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest
import redis as redis_sync

from gateway.emulator.runner import RunningEmulator
from gateway.limits.backend import utc_day
from tests.support.redis_server import RedisServer, free_port, running_redis
from tests.support.servers import GatewayServer, running_gateway

POLICY = Path(__file__).parent / "policies" / "redis.yaml"
KEY = "sk-redis-client"


def _ask(url: str, text: str, key: str = KEY, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/chat/completions",
        json={"model": "haiku", "messages": [{"role": "user", "content": text}], "temperature": 0},
        headers={"Authorization": f"Bearer {key}"} | headers,
        timeout=30,
    )


def _errors(gw: GatewayServer, op: str) -> float:
    value = gw.registry.get_sample_value("gateway_redis_errors_total", {"op": op})
    return value or 0.0


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    with running_redis() as server:
        yield server


@pytest.fixture
def gw(redis: RedisServer, emulator: RunningEmulator) -> Iterator[GatewayServer]:
    with running_gateway(
        policies=POLICY, api_keys=KEY, redis_url=redis.url, redis_retry_s=0.01
    ) as server:
        yield server


def test_wrong_type_and_garbage_limit_keys_fail_open(gw: GatewayServer, redis: RedisServer) -> None:
    """A spend counter that is not a number, a bucket that is a string: served, counted."""
    client = redis_sync.Redis.from_url(redis.url)
    client.set(f"gw:spend:{{broke}}:{utc_day(time.time())}", "not-a-number")
    client.set("gw:limit:{limited}:req", "a string where a hash belongs")
    client.rpush("gw:limit:{limited}:tok", "a list")
    client.close()
    broke = _ask(gw.url, f"budget {uuid.uuid4()}", key="sk-redis-broke")
    limited = _ask(gw.url, f"limit {uuid.uuid4()}", key="sk-redis-limited")
    assert (broke.status_code, limited.status_code) == (200, 200), (broke.text, limited.text)
    # The spend is read before the body (spend_get) and reserved once priced (spend_reserve):
    # whichever meets the garbage first counts it, and Redis is then paused.
    assert _errors(gw, "spend_get") + _errors(gw, "spend_reserve") >= 1
    assert _errors(gw, "limits_acquire") >= 1
    assert httpx.get(f"{gw.url}/readyz").json()["redis"] == "degraded"


def test_wrong_type_stats_keys_do_not_stop_the_shared_stats(
    gw: GatewayServer, redis: RedisServer
) -> None:
    client = redis_sync.Redis.from_url(redis.url)
    client.set("gw:stats:latency", "a string where a hash belongs")
    client.close()
    shared = gw.state.shared_stats
    assert shared is not None
    ok = gw.call(shared.sync_once())
    assert ok is False
    assert _errors(gw, "stats_sync") >= 1
    assert _ask(gw.url, f"stats {uuid.uuid4()}").status_code == 200


def test_a_foreign_key_where_the_flight_lock_goes_is_not_waited_on(
    gw: GatewayServer, redis: RedisServer, emulator: RunningEmulator
) -> None:
    """A key of another type (or one without a TTL, which no lock of ours is) under the lock's
    name: the follower does not wait for the route's timeout, it goes upstream at once."""
    text = f"flight {uuid.uuid4()}"
    assert _ask(gw.url, text).headers["x-gateway-cache"] == "miss"
    client = redis_sync.Redis.from_url(redis.url)
    [entry] = [k.decode() for k in client.scan_iter("gw:cache:*")]
    key = entry.removeprefix("gw:cache:")
    client.delete(entry)
    client.hset(f"gw:flight:{key}", "x", "y")  # a hash, no TTL
    client.close()
    answer = _ask(gw.url, text)
    assert answer.status_code == 200 and answer.headers["x-gateway-cache"] == "miss"
    assert _errors(gw, "flight_wait") + _errors(gw, "flight_acquire") >= 1


# -- a Redis-compatible proxy that answers with the wrong RESP types ---------------------------

_ODD_REPLIES = (
    b":7\r\n",
    b"*1\r\n$3\r\nodd\r\n",
    b"+OK\r\n",
    b"$5\r\nnot-a\r\n",
    b"%1\r\n:1\r\n:2\r\n",
)


class OddRedis:
    """Speaks RESP2 well enough to read commands, and answers each with an unexpected type
    (integer, array, status, bulk, RESP3 map), in turn. A stand-in for a broken proxy."""

    def __init__(self) -> None:
        self.port = free_port()
        self.commands: list[bytes] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._turn = 0

    def start(self) -> OddRedis:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._serve, "127.0.0.1", self.port), self._loop
        )
        self._server = future.result(5)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._loop.call_soon_threadsafe(self._server.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError, ValueError):
            while True:
                command = await _read_command(reader)
                self.commands.append(command)
                writer.write(_ODD_REPLIES[self._turn % len(_ODD_REPLIES)])
                self._turn += 1
                await writer.drain()
        writer.close()


async def _read_command(reader: asyncio.StreamReader) -> bytes:
    header = await reader.readline()
    if not header.startswith(b"*"):
        raise ValueError("not a RESP array")
    parts = []
    for _ in range(int(header[1:])):
        size = int((await reader.readline())[1:])
        parts.append((await reader.readexactly(size + 2))[:-2])
    return parts[0].upper() if parts else b""


@pytest.fixture
def odd_gateway(emulator: RunningEmulator) -> Iterator[tuple[GatewayServer, OddRedis]]:
    proxy = OddRedis().start()
    try:
        with running_gateway(
            policies=POLICY,
            api_keys=KEY,
            redis_url=f"redis://127.0.0.1:{proxy.port}/0",
            redis_retry_s=0.01,
        ) as server:
            yield server, proxy
    finally:
        proxy.stop()


def test_unexpected_resp_types_are_redis_failures(
    odd_gateway: tuple[GatewayServer, OddRedis],
) -> None:
    gw, proxy = odd_gateway
    statuses = []
    for i in range(12):
        for key in (KEY, "sk-redis-limited", "sk-redis-broke"):
            statuses.append(_ask(gw.url, f"odd {i}", key=key).status_code)
    assert proxy.commands, "the gateway never reached the proxy"
    assert 500 not in statuses
    assert set(statuses) <= {200, 429}
    assert statuses.count(200) >= 12
    shared = gw.state.shared_stats
    assert shared is not None
    for _ in range(5):
        gw.call(shared.sync_once())
    assert _ask(gw.url, "after stats").status_code == 200
