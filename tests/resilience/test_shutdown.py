"""Resilience: SIGTERM stops accepting, drains in-flight requests and streams, then exits 0."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from gateway.emulator.runner import RunningEmulator
from tests.resilience.helpers import HAIKU, KEY, LLAMA, write_policy
from tests.support.openai_wire import parse_sse, validate_completion
from tests.support.process import GatewayProcess

STREAM_CHUNK_DELAY_MS = 200  # ~12 frames: the stream lasts ~2.5 s
PLAIN_DELAY_MS = 2000
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture
def process(emulator: RunningEmulator, tmp_path: Path) -> Iterator[GatewayProcess]:
    policy = write_policy(tmp_path, timeout_s=20)
    proc = GatewayProcess(
        {"GATEWAY_API_KEYS": KEY, "GATEWAY_POLICIES": str(policy)},
        log_path=tmp_path / "gateway.log",
    ).wait_ready()
    try:
        yield proc
    finally:
        proc.stop()


def _in_thread(target: Any) -> tuple[threading.Thread, dict[str, Any]]:
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["value"] = target()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            result["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


def _wait_for(condition: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_sigterm_drains_a_stream_and_a_slow_request_then_exits_0(
    process: GatewayProcess, emulator: RunningEmulator
) -> None:
    emulator.state.set_fault(HAIKU, "slow", chunk_delay_ms=STREAM_CHUNK_DELAY_MS)
    emulator.state.set_fault(LLAMA, "slow", delay_ms=PLAIN_DELAY_MS)
    emulator.state.reset_calls()
    first_chunk = threading.Event()

    def stream() -> bytes:
        body = {"model": "haiku", "stream": True, "messages": [{"role": "user", "content": "s"}]}
        received = b""
        with httpx.stream(
            "POST", f"{process.url}/v1/chat/completions", json=body, headers=AUTH, timeout=30
        ) as response:
            assert response.status_code == 200
            for chunk in response.iter_bytes():
                received += chunk
                first_chunk.set()
        return received

    def plain() -> httpx.Response:
        body = {"model": "llama3-8b", "messages": [{"role": "user", "content": "p"}]}
        return httpx.post(f"{process.url}/v1/chat/completions", json=body, headers=AUTH, timeout=30)

    idle = httpx.Client(timeout=5)  # an idle keep-alive connection must not hold the exit
    assert idle.get(f"{process.url}/healthz").status_code == 200
    stream_thread, stream_result = _in_thread(stream)
    plain_thread, plain_result = _in_thread(plain)
    _wait_for(first_chunk.is_set, 10, "the stream's first chunk")
    _wait_for(lambda: LLAMA in emulator.state.counts(), 10, "the plain request upstream")

    signalled = time.monotonic()
    process.signal(signal.SIGTERM)

    # new connections are refused once the listener is closed (well before the drain ends)
    refused_at = None
    while time.monotonic() - signalled < 2:
        try:
            httpx.get(f"{process.url}/healthz", timeout=0.5)
        except httpx.ConnectError:
            refused_at = time.monotonic() - signalled
            break
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    assert refused_at is not None, "still accepting connections 2 s after SIGTERM"
    assert stream_thread.is_alive(), "the stream should still be in flight when refusing"

    stream_thread.join(20)
    plain_thread.join(20)
    assert "error" not in stream_result, stream_result.get("error")
    assert "error" not in plain_result, plain_result.get("error")
    events, done = parse_sse(stream_result["value"])
    assert done and events and not any("error" in e for e in events)
    assert events[-1]["choices"][0]["finish_reason"] == "stop" or events[-1].get("usage")
    response: httpx.Response = plain_result["value"]
    assert response.status_code == 200
    validate_completion(response.content)

    code = process.proc.wait(timeout=20)
    exited_after = time.monotonic() - signalled
    idle.close()
    assert code == 0, process.output()
    assert exited_after < 15, exited_after
    assert "Traceback" not in process.output()
    finished = [c for c in emulator.state.calls() if c["model_id"] in (HAIKU, LLAMA)]
    assert sorted(c["status"] for c in finished) == [200, 200]


def test_sigterm_when_idle_exits_0_promptly(process: GatewayProcess) -> None:
    started = time.monotonic()
    process.signal(signal.SIGTERM)
    assert process.proc.wait(timeout=10) == 0
    assert time.monotonic() - started < 5
