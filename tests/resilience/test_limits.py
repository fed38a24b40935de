"""Resilience: bounded work before trust — heads, slow clients, huge bodies, spent budgets.

Each test reproduces a finding of the hardening pass (issue 14) over real sockets and prints
the resource figures it measured (``pytest -s``); assertions on time are generous upper
bounds that tell a bounded answer from a stall, never speed checks.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import openai
import pytest

from gateway.config import sha256_hex
from gateway.emulator.runner import RunningEmulator
from gateway.schemas.bounds import MAX_TEXT_CHARS
from tests.resilience.helpers import KEY, assert_openai_error, write_policy
from tests.resilience.probes import measured
from tests.support.servers import GatewayServer, running_gateway

BROKE_KEY = "sk-limits-broke"
SLOW_KEY = "sk-limits-one-per-minute"
METRICS_KEY = "sk-limits-metrics"
HEADER_TIMEOUT_S = 1.0
BODY_TIMEOUT_S = 2.0
TENANTS = f"""
tenants:
  broke:
    key_sha256: [{sha256_hex(BROKE_KEY)}]
    budget: {{usd_per_day: 0.000001}}
  one-per-minute:
    key_sha256: [{sha256_hex(SLOW_KEY)}]
    rate_limit: {{requests_per_minute: 1}}
"""


@pytest.fixture(scope="module")
def limits_gateway(
    emulator: RunningEmulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayServer]:
    policy = write_policy(tmp_path_factory.mktemp("limits-policy"))
    policy.write_text(policy.read_text() + TENANTS)
    with running_gateway(
        policies=policy,
        api_keys=KEY,
        header_timeout_s=HEADER_TIMEOUT_S,
        body_timeout_s=BODY_TIMEOUT_S,
        metrics_key=METRICS_KEY,
    ) as server:
        yield server


@pytest.fixture
def http(limits_gateway: GatewayServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=limits_gateway.url, timeout=60) as client:
        yield client


def _port(gateway: GatewayServer) -> int:
    return int(gateway.server.config.port)


def _read_answer(sock: socket.socket, timeout_s: float = 10) -> bytes:
    """Everything the server sends until it closes (or the timeout passes)."""
    sock.settimeout(timeout_s)
    data = b""
    with contextlib.suppress(OSError):
        while chunk := sock.recv(65536):
            data += chunk
    return data


def _closed_within(sock: socket.socket, timeout_s: float) -> float | None:
    """Seconds until the server closed the connection (None: still open after timeout)."""
    started = time.monotonic()
    sock.settimeout(timeout_s)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return None
    except OSError:
        pass
    return time.monotonic() - started


def _body_of(answer: bytes) -> bytes:
    return answer.partition(b"\r\n\r\n")[2]


# --- Request heads ------------------------------------------------------------------------


def test_a_header_of_many_megabytes_is_400_and_closed(limits_gateway: GatewayServer) -> None:
    """Before: uvicorn/httptools buffered any header (hundreds of MB slowed /healthz to s)."""
    port, budget, piece = _port(limits_gateway), 64 * 1024 * 1024, b"a" * 65536
    sent = 0
    with (
        measured(limits_gateway) as figures,
        socket.create_connection(("127.0.0.1", port), timeout=10) as sock,
    ):
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")
        with contextlib.suppress(OSError):  # the server closes on us once it refused
            while sent < budget:
                sock.sendall(piece)
                sent += len(piece)
        answer = _read_answer(sock)
    print(figures.line(f"header of {sent / 2**20:.1f} MiB sent before the close"))
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    error = assert_openai_error(_body_of(answer))
    assert "Request headers exceed the limit of 65536 bytes" in error["message"]
    assert sent < budget, "the gateway read the whole 64 MiB header"
    assert figures.loop_stall_s < 5 and figures.healthz_failures == 0


def test_too_many_header_lines_is_400(limits_gateway: GatewayServer) -> None:
    lines = b"".join(b"X-H%d: v\r\n" % i for i in range(150))
    with socket.create_connection(("127.0.0.1", _port(limits_gateway)), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + lines + b"\r\n")
        answer = _read_answer(sock)
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    assert "more than 100 header lines" in assert_openai_error(_body_of(answer))["message"]


def test_large_but_allowed_headers_are_served(limits_gateway: GatewayServer) -> None:
    """A 32 KiB header and 80 header lines: well inside the bounds, a normal answer."""
    extra = {f"x-extra-{i}": "v" for i in range(80)} | {"x-big": "b" * 32768}
    client = openai.OpenAI(
        base_url=f"{limits_gateway.url}/v1", api_key=KEY, max_retries=0, default_headers=extra
    )
    completion = client.chat.completions.create(
        model="haiku", messages=[{"role": "user", "content": "hi"}]
    )
    assert completion.choices[0].message.content


# --- Slow clients -------------------------------------------------------------------------


def test_slow_loris_heads_are_dropped_after_the_header_timeout(
    limits_gateway: GatewayServer, http: httpx.Client
) -> None:
    """Before: a client sending a byte every few seconds was held forever (fd exhaustion)."""
    port = _port(limits_gateway)
    socks = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(20)]
    try:
        for sock in socks:
            sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        open_socks = list(socks)
        while open_socks and time.monotonic() - started < 5 * HEADER_TIMEOUT_S:
            for sock in list(open_socks):
                try:
                    sock.sendall(b"X")  # one byte of a header line, never finished
                except OSError:
                    open_socks.remove(sock)
            time.sleep(0.1)
        closed = [_closed_within(sock, 5) for sock in socks]
    finally:
        for sock in socks:
            sock.close()
    held = time.monotonic() - started
    print(
        f"\nslow-loris: 20 connections dropped within {held:.2f} s "
        f"(header timeout {HEADER_TIMEOUT_S} s)"
    )
    assert all(seconds is not None for seconds in closed), closed
    assert held < 5 + 5 * HEADER_TIMEOUT_S
    assert http.get("/healthz").status_code == 200


def test_a_silent_connection_is_dropped(limits_gateway: GatewayServer) -> None:
    with socket.create_connection(("127.0.0.1", _port(limits_gateway)), timeout=10) as sock:
        assert _closed_within(sock, 5 * HEADER_TIMEOUT_S) is not None


def test_a_slow_body_is_dropped_after_the_body_timeout(limits_gateway: GatewayServer) -> None:
    head = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
        b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n" % KEY.encode()
    )
    with socket.create_connection(("127.0.0.1", _port(limits_gateway)), timeout=10) as sock:
        sock.sendall(head + b'{"model": ')
        started = time.monotonic()
        with contextlib.suppress(OSError):
            while time.monotonic() - started < 5 * BODY_TIMEOUT_S:
                sock.sendall(b" ")
                time.sleep(0.2)
        assert _closed_within(sock, 5) is not None
    assert time.monotonic() - started < 5 + 5 * BODY_TIMEOUT_S


# --- Huge bodies --------------------------------------------------------------------------


def _tiny_messages(count: int, *, role_key: str = "role") -> bytes:
    message = '{"' + role_key + '":"user","content":"hi"}'
    return b'{"model":"haiku","messages":[' + ",".join([message] * count).encode() + b"]}"


@pytest.mark.parametrize("role_key", ["role", "\\u0072ole"], ids=["plain", "escaped-keys"])
def test_900000_tiny_messages_are_refused_without_stalling_the_loop(
    limits_gateway: GatewayServer, http: httpx.Client, role_key: str
) -> None:
    """Before: 16-37 s of event loop and RSS 200 MB -> 1.9 GB, then an answer."""
    body = _tiny_messages(900_000, role_key=role_key)
    with measured(limits_gateway) as figures:
        started = time.perf_counter()
        response = http.post(
            "/v1/chat/completions",
            content=body,
            headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
        )
        elapsed = time.perf_counter() - started
    print(
        figures.line(
            f"{len(body) / 1e6:.1f} MB body of 900,000 messages ({role_key}): "
            f"answered {response.status_code} in {elapsed:.2f} s"
        )
    )
    assert response.status_code == 400, response.text[:300]
    error = assert_openai_error(response.content)
    assert error["param"] == "messages", error
    assert "maximum length 10000" in error["message"]
    assert figures.loop_stall_s < 5


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        (
            {"messages": [{"role": "user", "content": [{"type": "text", "text": "a"}] * 20_001}]},
            "messages",
        ),
        ({"tools": [{"type": "function", "function": {"name": "f"}}] * 513}, "tools"),
        ({"messages": [{"role": "user", "content": "hi"}] * 10_001}, "messages"),
    ],
    ids=["content-parts", "tools", "messages"],
)
def test_count_caps_are_400_naming_the_field(
    limits_gateway: GatewayServer, extra: dict[str, object], param: str
) -> None:
    client = openai.OpenAI(base_url=f"{limits_gateway.url}/v1", api_key=KEY, max_retries=0)
    body = {"model": "haiku", "messages": [{"role": "user", "content": "hi"}], **extra}
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(**body)  # type: ignore[call-overload]
    assert info.value.status_code == 400
    assert info.value.body is not None and info.value.body["param"] == param  # type: ignore[index]


_OUTPUT = {"type": "function_call_output", "call_id": "call_1", "output": "ok"}
_PART = {"type": "input_text", "text": "x"}


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": [{"role": "user", "content": "hi"}] * 10_001}, "input"),
        ({"input": [_OUTPUT] * 10_001}, "input"),  # items without a role: counted once decoded
        ({"input": [{"role": "user", "content": [_PART] * 20_001}]}, "input"),
        (
            {"input": "hi", "tools": [{"type": "function", "name": "f", "parameters": {}}] * 513},
            "tools",
        ),
    ],
    ids=["message-items", "output-items", "content-parts", "tools"],
)
def test_responses_count_caps_are_400_naming_the_field(
    limits_gateway: GatewayServer, body: dict[str, object], param: str
) -> None:
    assert _responses_refusal(limits_gateway, body)["param"] == param


def _responses_refusal(gateway: GatewayServer, body: dict[str, object]) -> Any:
    """The error body of a Responses request the SDK raises a 400 for."""
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=KEY, max_retries=0)
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model="haiku", store=False, **body)  # type: ignore[call-overload]
    assert info.value.status_code == 400
    return info.value.body


_LONG = "x" * (MAX_TEXT_CHARS + 1)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": _LONG}, "input"),
        ({"input": "hi", "instructions": _LONG}, "instructions"),
        ({"input": [{"role": "user", "content": _LONG}]}, "input[0].content"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_text", "text": _LONG}]}]},
            "input[0].content[0].text",
        ),
        ({"input": [_OUTPUT | {"output": _LONG}]}, "input[0].output"),
    ],
    ids=["input", "instructions", "message", "input-text", "function-call-output"],
)
def test_responses_text_cap_is_400_naming_the_field(
    limits_gateway: GatewayServer, body: dict[str, object], param: str
) -> None:
    """One message's text is capped at OpenAI's 10,485,760 characters, as on chat."""
    error = _responses_refusal(limits_gateway, body)
    assert error["param"] == param
    assert f"maximum length {MAX_TEXT_CHARS}" in error["message"]


def test_chat_text_cap_is_400_naming_the_field(limits_gateway: GatewayServer) -> None:
    client = openai.OpenAI(base_url=f"{limits_gateway.url}/v1", api_key=KEY, max_retries=0)
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="haiku", messages=[{"role": "user", "content": _LONG}])
    error: Any = info.value.body
    assert error["param"] == "messages[0].content"


def test_messages_at_the_cap_are_accepted(limits_gateway: GatewayServer) -> None:
    client = openai.OpenAI(base_url=f"{limits_gateway.url}/v1", api_key=KEY, max_retries=0)
    completion = client.chat.completions.create(
        model="haiku", messages=[{"role": "user", "content": "hi"}] * 10_000
    )
    assert completion.choices[0].message.content


# --- The caller is checked before its body is read ----------------------------------------


def _head_only(port: int, path: str, key: str, declared: int) -> bytes:
    """A request that declares a ~31 MB body and sends none of it: only a check made before
    the body is read can answer it."""
    head = (
        b"POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
        % (path.encode(), key.encode(), declared)
    )
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        sock.settimeout(BODY_TIMEOUT_S / 2)  # answered before the body timeout drops us
        data = b""
        with contextlib.suppress(OSError):
            while not _complete(data):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        return data


def _complete(answer: bytes) -> bool:
    head, sep, body = answer.partition(b"\r\n\r\n")
    for line in head.lower().split(b"\r\n"):
        if line.startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return bool(sep)


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/gateway/explain", "/v1/responses"])
def test_a_spent_budget_is_refused_before_the_body_is_read(
    limits_gateway: GatewayServer, path: str
) -> None:
    client = openai.OpenAI(base_url=f"{limits_gateway.url}/v1", api_key=BROKE_KEY, max_retries=0)
    with contextlib.suppress(openai.RateLimitError):  # spends the tiny budget (or finds it spent)
        client.chat.completions.create(model="haiku", messages=[{"role": "user", "content": "hi"}])
    answer = _head_only(_port(limits_gateway), path, BROKE_KEY, 31_000_000)
    assert answer.startswith(b"HTTP/1.1 429"), answer[:300]
    error = assert_openai_error(_body_of(answer))
    assert error["code"] == "insufficient_quota"


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/responses"])
def test_an_exhausted_request_rate_is_refused_before_the_body_is_read(
    limits_gateway: GatewayServer, path: str
) -> None:
    client = openai.OpenAI(base_url=f"{limits_gateway.url}/v1", api_key=SLOW_KEY, max_retries=0)
    with contextlib.suppress(openai.RateLimitError):
        client.chat.completions.create(model="haiku", messages=[{"role": "user", "content": "hi"}])
    answer = _head_only(_port(limits_gateway), path, SLOW_KEY, 31_000_000)
    assert answer.startswith(b"HTTP/1.1 429"), answer[:300]
    assert b"retry-after" in answer.lower()


# --- /metrics -----------------------------------------------------------------------------


def test_metrics_needs_the_metrics_key(http: httpx.Client) -> None:
    refused = http.get("/metrics")
    assert refused.status_code == 401
    assert_openai_error(refused.content)
    wrong = http.get("/metrics", headers={"Authorization": f"Bearer {KEY}"})
    assert wrong.status_code == 401
    served = http.get("/metrics", headers={"Authorization": f"Bearer {METRICS_KEY}"})
    assert served.status_code == 200 and b"gateway_requests_total" in served.content


def test_tenant_labels_can_be_left_off_metrics(emulator: RunningEmulator, tmp_path: Path) -> None:
    policy = write_policy(tmp_path)
    policy.write_text(policy.read_text() + TENANTS)
    with running_gateway(policies=policy, api_keys=KEY, metrics_tenant_labels=False) as gateway:
        client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=SLOW_KEY, max_retries=0)
        client.chat.completions.create(model="haiku", messages=[{"role": "user", "content": "hi"}])
        with contextlib.suppress(openai.RateLimitError):
            client.chat.completions.create(
                model="haiku", messages=[{"role": "user", "content": "hi"}]
            )
        text = httpx.get(f"{gateway.url}/metrics").text
    assert 'tenant="_all"' in text
    assert "one-per-minute" not in text
