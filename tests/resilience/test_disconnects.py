"""Resilience: clients that hang up mid-stream cancel the Bedrock call and leak nothing."""

from __future__ import annotations

import asyncio
import gc
import logging
import re
import socket
import struct
import time

import httpx2 as httpx
import openai
import orjson
import pytest

from gateway.emulator.runner import RunningEmulator
from gateway.protocol import BoundedHttpToolsProtocol
from tests.resilience.helpers import (
    HAIKU,
    KEY,
    task_count,
    wait_pool_idle,
    wait_tasks_at_most,
)
from tests.support.servers import GatewayServer

DISCONNECTS = 100
SDK_DISCONNECTS = 20
CONCURRENCY = 25
CHUNK_DELAY_MS = 150  # 8 chunks and their frames: a stream lasts ~2 s unless cut
BODY = {"model": "haiku", "stream": True, "messages": [{"role": "user", "content": "tell"}]}


async def _hang_up_after_first_chunk(host: str, port: int) -> bytes:
    """POST a streamed request on a raw socket, read until the first SSE event, close."""
    reader, writer = await asyncio.open_connection(host, port)
    payload = orjson.dumps(BODY)
    writer.write(
        b"POST /v1/chat/completions HTTP/1.1\r\n"
        b"Host: %s:%d\r\n"
        b"Authorization: Bearer %s\r\n"
        b"Content-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (host.encode(), port, KEY.encode(), len(payload), payload)
    )
    await writer.drain()
    received = b""
    try:
        async with asyncio.timeout(10):
            while b"data: " not in received:
                chunk = await reader.read(4096)
                if not chunk:
                    break
                received += chunk
    finally:
        writer.transport.abort()  # a hard close, as a client that goes away
    return received


def _in_flight(server: GatewayServer) -> float:
    text = httpx.get(f"{server.url}/metrics", timeout=5).text
    match = re.search(r"^gateway_in_flight_requests(?:\{[^}]*\})? (\S+)$", text, re.M)
    assert match, "gateway_in_flight_requests not exported"
    return float(match.group(1))


async def _warm_up(server: GatewayServer) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(
            f"{server.url}/v1/chat/completions",
            json=BODY,
            headers={"Authorization": f"Bearer {KEY}"},
        )
        assert response.status_code == 200


def _wait_calls_ended(emulator: RunningEmulator, expected: int, timeout_s: float = 10) -> list[int]:
    deadline = time.monotonic() + timeout_s
    while True:
        statuses = [c["status"] for c in emulator.state.calls() if c["model_id"] == HAIKU]
        if len(statuses) >= expected or time.monotonic() > deadline:
            return statuses
        time.sleep(0.05)


async def test_100_disconnects_mid_stream_leak_no_connection_or_task(
    gateway: GatewayServer, emulator: RunningEmulator
) -> None:
    await _warm_up(gateway)
    wait_pool_idle(gateway)
    baseline = wait_tasks_at_most(gateway, 0, timeout_s=1.0)
    emulator.state.set_fault(HAIKU, "slow", chunk_delay_ms=CHUNK_DELAY_MS)
    emulator.state.reset_calls()
    host, port = "127.0.0.1", gateway.server.config.port
    limit = asyncio.Semaphore(CONCURRENCY)

    async def one() -> bytes:
        async with limit:
            return await _hang_up_after_first_chunk(host, port)

    started = time.monotonic()
    answers = await asyncio.gather(*(one() for _ in range(DISCONNECTS)))
    cut_after = time.monotonic() - started
    assert all(a.startswith(b"HTTP/1.1 200") and b"data: " in a for a in answers)
    # every upstream call ended early: arrived, logged, and none ran to its end (200)
    statuses = _wait_calls_ended(emulator, DISCONNECTS)
    assert emulator.state.counts()[HAIKU]["converse-stream"] == DISCONNECTS
    assert len(statuses) == DISCONNECTS, statuses
    assert set(statuses) == {499}, statuses
    # faster than the streams would have taken to finish, even one batch after another
    assert cut_after < (DISCONNECTS / CONCURRENCY) * 12 * CHUNK_DELAY_MS / 1000
    wait_pool_idle(gateway)
    assert wait_tasks_at_most(gateway, baseline) <= baseline, (baseline, task_count(gateway))
    assert _in_flight(gateway) == 0


async def test_sdk_stream_closed_early_cancels_the_upstream_call(
    gateway: GatewayServer, emulator: RunningEmulator
) -> None:
    """The openai SDK's own ``close()`` after the first chunk, 20 times concurrently."""
    await _warm_up(gateway)
    baseline = wait_tasks_at_most(gateway, 0, timeout_s=1.0)
    emulator.state.set_fault(HAIKU, "slow", chunk_delay_ms=CHUNK_DELAY_MS)
    emulator.state.reset_calls()
    client = openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=KEY, max_retries=0)

    async def one() -> None:
        stream = await client.chat.completions.create(
            model="haiku", messages=[{"role": "user", "content": "tell"}], stream=True
        )
        async for _chunk in stream:
            break
        await stream.close()

    await asyncio.gather(*(one() for _ in range(SDK_DISCONNECTS)))
    await client.close()
    statuses = _wait_calls_ended(emulator, SDK_DISCONNECTS)
    assert statuses == [499] * SDK_DISCONNECTS
    wait_pool_idle(gateway)
    assert wait_tasks_at_most(gateway, baseline) <= baseline
    assert _in_flight(gateway) == 0


def _status_count(server: GatewayServer, status: str) -> float:
    """``gateway_requests_total`` summed over routes and models for one status label."""
    total = 0.0
    for family in server.registry.collect():
        if family.name != "gateway_requests":
            continue
        for sample in family.samples:
            if sample.name.endswith("_total") and sample.labels.get("status") == status:
                total += sample.value
    return total


async def _wait_count(server: GatewayServer, status: str, at_least: float) -> float:
    """Polls without blocking this loop (where the aborted socket is closed)."""
    deadline = time.monotonic() + 10
    while (count := _status_count(server, status)) < at_least and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    return count


async def _hang_up_mid_upload(host: str, port: int) -> None:
    """Declare a 10 kB body, send 100 bytes of it, close."""
    _reader, writer = await asyncio.open_connection(host, port)
    writer.write(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
        b"Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
        b"Content-Length: 10000\r\n\r\n" % KEY.encode() + b'{"model": "haiku", ' + b" " * 81
    )
    await writer.drain()
    await asyncio.sleep(0.05)
    writer.transport.abort()


async def test_a_client_gone_mid_upload_is_a_499_logged_at_info(
    gateway: GatewayServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    before, errors_before = _status_count(gateway, "499"), _status_count(gateway, "500")
    await _hang_up_mid_upload("127.0.0.1", gateway.server.config.port)
    assert await _wait_count(gateway, "499", before + 1) == before + 1
    assert _status_count(gateway, "500") == errors_before
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    notes = [r for r in caplog.records if "client disconnected during the upload" in r.message]
    assert notes and notes[0].levelno == logging.INFO and notes[0].exc_info is None
    lines = [r.getMessage() for r in caplog.records if r.name == "gateway.access"]
    assert any("status=499" in line for line in lines)


async def test_a_client_gone_mid_stream_is_a_499(
    gateway: GatewayServer, emulator: RunningEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    await _warm_up(gateway)
    emulator.state.set_fault(HAIKU, "slow", chunk_delay_ms=CHUNK_DELAY_MS)
    before = _status_count(gateway, "499")
    answer = await _hang_up_after_first_chunk("127.0.0.1", gateway.server.config.port)
    assert answer.startswith(b"HTTP/1.1 200")
    assert await _wait_count(gateway, "499", before + 1) == before + 1
    notes = [r for r in caplog.records if "client disconnected during the stream" in r.message]
    assert notes and notes[0].levelno == logging.INFO and notes[0].exc_info is None
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


RESETS = 40


async def _ask_then_reset(host: str, port: int) -> tuple[bytes, int]:
    """One plain request read to its end, then a reset (RST), as a client that dies idle:
    the answer, and the client's port (the server's ``client`` of that connection)."""
    reader, writer = await asyncio.open_connection(host, port)
    payload = orjson.dumps({**BODY, "stream": False})
    writer.write(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
        % (KEY.encode(), len(payload), payload)
    )
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(re.search(rb"(?i)content-length: (\d+)", head).group(1))  # type: ignore[union-attr]
    body = await reader.readexactly(length)
    client_port = int(writer.get_extra_info("sockname")[1])
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
    return head + body, client_port


def _closed_but_timed(gateway: GatewayServer, client_ports: set[int]) -> int:
    """Of the connections from ``client_ports``, the closed ones that a pending keep-alive
    timer still holds (other tests' connections to this gateway are not counted: one the
    server closed while its peer does not read stays closing, and is not this bug)."""
    return sum(
        1
        for o in gc.get_objects()
        if isinstance(o, BoundedHttpToolsProtocol)
        and o.server_state is gateway.server.server_state
        and o.client is not None
        and o.client[1] in client_ports
        and o.transport.is_closing()
        and o.timeout_keep_alive_task is not None
    )


async def test_connections_reset_while_idle_are_released_at_once(
    gateway: GatewayServer,
) -> None:
    """uvicorn leaves its keep-alive timer armed after a reset, holding the closed connection
    (protocol, transport, last request, ~35 KB) for the keep-alive timeout (5 s); the
    gateway's protocol cancels it on every close."""
    await _warm_up(gateway)
    asked = await asyncio.gather(
        *(_ask_then_reset("127.0.0.1", gateway.server.config.port) for _ in range(RESETS))
    )
    assert all(answer.startswith(b"HTTP/1.1 200") for answer, _ in asked)
    ports = {port for _, port in asked}
    deadline = time.monotonic() + 3.0  # inside the 5 s keep-alive: unfixed, they stay held
    while (held := _closed_but_timed(gateway, ports)) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert held == 0, f"{held} closed connections still held by keep-alive timers"
