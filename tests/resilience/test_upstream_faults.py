"""Resilience: every emulator fault, plain and streamed, ends in a fallback or a clean error."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from gateway.emulator.runner import RunningEmulator
from gateway.routing.stats import LocalStats
from tests.resilience.helpers import (
    HAIKU,
    KEY,
    LLAMA,
    MARKER,
    MISTRAL,
    TITAN,
    assert_openai_error,
    wait_pool_idle,
    write_policy,
)
from tests.support.openai_wire import parse_sse, stream_raw, validate_completion
from tests.support.servers import GatewayServer, aws_env, free_port, running_gateway

HELLO: list[ChatCompletionMessageParam] = [{"role": "user", "content": f"hello {MARKER}"}]
ROUTE_TIMEOUT_S = 1.0
# Generous for a loaded 2-core machine: the deadline, plus scheduling and teardown.
TIMEOUT_BOUND_S = ROUTE_TIMEOUT_S + 3.0

# mode -> (status, SDK exception, error.code) when the only candidate fails that way
ERROR_MODES: dict[str, tuple[int, type[openai.APIStatusError], str]] = {
    "throttle": (429, openai.RateLimitError, "rate_limit_exceeded"),
    "unavailable": (503, openai.InternalServerError, "service_unavailable"),
    "internal": (500, openai.InternalServerError, "upstream_server_error"),
    "not_ready": (503, openai.InternalServerError, "service_unavailable"),
    "model_error": (502, openai.InternalServerError, "model_error"),
    "timeout": (504, openai.InternalServerError, "timeout"),
    # No access to the model is model-level: benched, and a 503 once no candidate is left.
    "access_denied": (503, openai.InternalServerError, "service_unavailable"),
    "validation": (400, openai.BadRequestError, "invalid_request"),
}
RETRYABLE = ("throttle", "unavailable", "internal", "not_ready", "timeout")
FINAL = ("model_error", "validation")
BREAKING = ("break_stream", "drop_stream", "truncate_frame")


def _status_error(client: openai.OpenAI, route: str, *, stream: bool) -> openai.APIStatusError:
    with pytest.raises(openai.APIStatusError) as info:
        reply = client.chat.completions.create(model=route, messages=HELLO, stream=stream)
        if stream:
            list(reply)
    return info.value


# --- Bedrock error answers -------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("mode", list(ERROR_MODES))
def test_error_mode_on_the_only_candidate_is_a_clean_openai_error(
    client: openai.OpenAI,
    gateway: GatewayServer,
    emulator: RunningEmulator,
    mode: str,
    stream: bool,
) -> None:
    status, exc_class, code = ERROR_MODES[mode]
    emulator.state.set_fault(HAIKU, mode)
    err = _status_error(client, "haiku", stream=stream)
    assert isinstance(err, exc_class)
    assert err.status_code == status
    body = assert_openai_error(err.response.content, status=status)
    assert body["code"] == code
    if status in (429, 503):
        assert int(err.response.headers["retry-after"]) >= 1
    assert err.response.headers["x-gateway-attempts"] == "1"
    wait_pool_idle(gateway)


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("mode", RETRYABLE)
def test_retryable_mode_falls_back_to_the_next_candidate(
    client: openai.OpenAI,
    gateway: GatewayServer,
    emulator: RunningEmulator,
    mode: str,
    stream: bool,
) -> None:
    emulator.state.set_fault(MISTRAL, mode)
    if stream:
        response, events, done = stream_raw(gateway.url, KEY, {"model": "chain", "messages": HELLO})
        assert response.status_code == 200 and done
        assert not any("error" in e for e in events)
        headers = response.headers
    else:
        raw = client.chat.completions.with_raw_response.create(model="chain", messages=HELLO)
        validate_completion(raw.http_response.content)
        headers = raw.headers
    assert headers["x-gateway-model"] == LLAMA
    assert headers["x-gateway-attempts"] == "2"
    wait_pool_idle(gateway)


@pytest.mark.parametrize("mode", FINAL)
def test_final_mode_does_not_fall_back(
    client: openai.OpenAI, gateway: GatewayServer, emulator: RunningEmulator, mode: str
) -> None:
    status, exc_class, _code = ERROR_MODES[mode]
    emulator.state.set_fault(MISTRAL, mode)
    emulator.state.reset_calls()
    err = _status_error(client, "chain", stream=False)
    assert isinstance(err, exc_class) and err.status_code == status
    assert err.response.headers["x-gateway-attempts"] == "1"
    assert_openai_error(err.response.content, status=status)
    assert emulator.state.counts().get(LLAMA, {}).get("converse", 0) == 0
    wait_pool_idle(gateway)


def test_every_candidate_failing_differently_names_them_all(
    client: openai.OpenAI, gateway: GatewayServer, emulator: RunningEmulator
) -> None:
    emulator.state.set_fault(MISTRAL, "throttle")
    emulator.state.set_fault(LLAMA, "unavailable")
    emulator.state.set_fault(HAIKU, "internal")
    err = _status_error(client, "chain", stream=True)
    assert err.status_code == 500
    body = assert_openai_error(err.response.content, status=500)
    assert "All 3 candidate models failed" in body["message"]
    assert err.response.headers["x-gateway-attempts"] == "3"
    wait_pool_idle(gateway)


@pytest.mark.parametrize("mode", ["throttle", "unavailable", "timeout", *FINAL])
def test_embeddings_error_modes_are_clean(
    gateway: GatewayServer, emulator: RunningEmulator, mode: str
) -> None:
    status, _exc, code = ERROR_MODES[mode]
    emulator.state.set_fault(TITAN, mode)
    response = httpx.post(
        f"{gateway.url}/v1/embeddings",
        json={"model": "embed", "input": ["a", MARKER]},
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=30,
    )
    assert response.status_code == status
    assert assert_openai_error(response.content, status=status)["code"] == code
    wait_pool_idle(gateway)


# --- Stream faults ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["stream_throttle", *BREAKING])
def test_stream_fault_before_the_first_byte_falls_back(
    gateway: GatewayServer, emulator: RunningEmulator, mode: str
) -> None:
    emulator.state.set_fault(MISTRAL, mode, after_chunks=0)
    response, events, done = stream_raw(gateway.url, KEY, {"model": "chain", "messages": HELLO})
    assert response.status_code == 200 and done
    assert not any("error" in e for e in events)
    assert response.headers["x-gateway-model"] == LLAMA
    wait_pool_idle(gateway)


@pytest.mark.parametrize("mode", BREAKING)
def test_stream_broken_half_way_ends_with_an_error_event(
    client: openai.OpenAI, gateway: GatewayServer, emulator: RunningEmulator, mode: str
) -> None:
    emulator.state.set_fault(HAIKU, mode, after_chunks=3)
    response, events, done = stream_raw(gateway.url, KEY, {"model": "haiku", "messages": HELLO})
    assert response.status_code == 200 and not done
    assert len(events) >= 2 and "error" in events[-1]
    assert not any("error" in e for e in events[:-1])
    assert assert_openai_error(events[-1], status=500)["code"] == "upstream_server_error"
    wait_pool_idle(gateway)
    emulator.state.set_fault(HAIKU, mode, after_chunks=3)
    received = []
    with pytest.raises(openai.APIError):
        for chunk in client.chat.completions.create(model="haiku", messages=HELLO, stream=True):
            received.append(chunk)
    assert received
    wait_pool_idle(gateway)


@pytest.mark.parametrize("mode", ["stream_throttle", *BREAKING])
def test_stream_modes_leave_plain_requests_alone(
    client: openai.OpenAI, gateway: GatewayServer, emulator: RunningEmulator, mode: str
) -> None:
    emulator.state.set_fault(HAIKU, mode)
    raw = client.chat.completions.with_raw_response.create(model="haiku", messages=HELLO)
    assert validate_completion(raw.http_response.content).choices[0].message.content
    wait_pool_idle(gateway)


def test_stream_throttled_on_the_only_candidate_is_429(
    client: openai.OpenAI, gateway: GatewayServer, emulator: RunningEmulator
) -> None:
    emulator.state.set_fault(HAIKU, "stream_throttle")
    err = _status_error(client, "haiku", stream=True)
    assert isinstance(err, openai.RateLimitError)
    assert err.response.headers["retry-after"]
    assert_openai_error(err.response.content)
    wait_pool_idle(gateway)


# --- Slow first byte, hangs, timeouts --------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_slow_first_byte_within_the_deadline_is_served(
    gateway: GatewayServer, emulator: RunningEmulator, stream: bool
) -> None:
    emulator.state.set_fault(HAIKU, "slow", delay_ms=400)
    started = time.monotonic()
    if stream:
        response, _events, done = stream_raw(
            gateway.url, KEY, {"model": "haiku", "messages": HELLO}
        )
        assert response.status_code == 200 and done
    else:
        response = _post_chat(gateway, {"model": "haiku", "messages": HELLO})
        assert response.status_code == 200
        validate_completion(response.content)
    assert time.monotonic() - started >= 0.4
    wait_pool_idle(gateway)


def _post_chat(server: GatewayServer, body: dict[str, object]) -> httpx.Response:
    return httpx.post(
        f"{server.url}/v1/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=30,
    )


def _timed_504(server: GatewayServer, route: str, *, stream: bool) -> tuple[float, bytes]:
    started = time.monotonic()
    response = _post_chat(server, {"model": route, "messages": HELLO, "stream": stream})
    elapsed = time.monotonic() - started
    assert response.status_code == 504, response.text
    return elapsed, response.content


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize(
    ("mode", "delay_ms"), [("hang", None), ("slow", 4000)], ids=["hang", "slow-first-byte"]
)
@pytest.mark.parametrize("route", ["haiku", "chain"])
def test_hang_or_slow_first_byte_ends_in_504_by_the_route_deadline(
    short_gateway: GatewayServer,
    emulator: RunningEmulator,
    mode: str,
    delay_ms: int | None,
    route: str,
    stream: bool,
) -> None:
    emulator.state.set_fault("*", mode, delay_ms=delay_ms)
    emulator.state.reset_calls()
    elapsed, body = _timed_504(short_gateway, route, stream=stream)
    assert ROUTE_TIMEOUT_S * 0.9 <= elapsed < TIMEOUT_BOUND_S, elapsed
    assert assert_openai_error(body, status=504)["code"] == "timeout"
    wait_pool_idle(short_gateway)
    # the abandoned upstream call was ended (the emulator logs 499 for a caller that left)
    deadline = time.monotonic() + 3
    while not any(c["status"] == 499 for c in emulator.state.calls()):
        assert time.monotonic() < deadline, emulator.state.calls()
        time.sleep(0.02)


# --- Connection refused ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def refused_gateway(
    emulator: RunningEmulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayServer]:
    """A gateway whose Bedrock endpoint is a closed loopback port."""
    policy = write_policy(Path(tmp_path_factory.mktemp("refused")), timeout_s=5)
    closed = f"http://127.0.0.1:{free_port()}"
    with contextlib.ExitStack() as stack:
        with aws_env({"AWS_ENDPOINT_URL_BEDROCK_RUNTIME": closed}):
            # the endpoint is read once, at start-up: the env can be restored right after
            server = stack.enter_context(running_gateway(policies=policy, api_keys=KEY))
        yield server


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize(("route", "attempts"), [("haiku", "1"), ("chain", "3")])
def test_connection_refused_is_503_with_retry_after(
    refused_gateway: GatewayServer, route: str, attempts: str, stream: bool
) -> None:
    refused_gateway.state.stats = LocalStats()
    started = time.monotonic()
    response = _post_chat(refused_gateway, {"model": route, "messages": HELLO, "stream": stream})
    assert time.monotonic() - started < 5
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) >= 1
    assert response.headers["x-gateway-attempts"] == attempts
    assert assert_openai_error(response.content, status=503)["code"] == "service_unavailable"
    wait_pool_idle(refused_gateway)


def test_the_gateway_stays_healthy_after_the_fault_storm(
    client: openai.OpenAI, gateway: GatewayServer
) -> None:
    """Run last in the module: the same gateway still answers, pool idle."""
    reply = client.chat.completions.create(model="chain", messages=HELLO)
    assert reply.choices[0].message.content
    with httpx.stream(
        "POST",
        f"{gateway.url}/v1/chat/completions",
        json={"model": "haiku", "messages": HELLO, "stream": True},
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=30,
    ) as response:
        _events, done = parse_sse(response.read())
    assert done
    assert wait_pool_idle(gateway)["in_use"] == 0


# --- An open circuit is a server-side condition ----------------------------------------------


def test_open_circuit_is_503_with_retry_after_not_a_client_error(
    client: openai.OpenAI, gateway: GatewayServer, emulator: RunningEmulator
) -> None:
    emulator.state.set_fault(HAIKU, "unavailable")
    statuses = []
    for _ in range(8):  # the circuit opens after 5 consecutive retryable failures
        err = _status_error(client, "haiku", stream=False)
        statuses.append(err.status_code)
        assert_openai_error(err.response.content)
    assert gateway.state.stats.state("claude-3-haiku") == "open"
    assert statuses == [503] * 8, statuses
    assert int(err.response.headers["retry-after"]) >= 1
