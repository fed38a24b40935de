"""Resilience: security at the edge — response headers, CORS and SSRF through image URLs."""

from __future__ import annotations

import contextlib
import re
import socket
from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import openai
import orjson
import pytest

from gateway.emulator.runner import RunningEmulator
from tests.resilience.helpers import (
    KEY,
    assert_openai_error,
    auth_header,
    write_policy,
)
from tests.support.servers import GatewayServer, running_gateway

FRESH_ID = re.compile(r"req_[0-9a-f]{32}")


# --- Response headers never echo untrusted input ---------------------------------------------


def _raw_exchange(port: int, request: bytes) -> tuple[bytes, dict[bytes, list[bytes]]]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        sock.settimeout(10)
        with contextlib.suppress(OSError):
            while b"\r\n\r\n" not in data:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
    head = data.split(b"\r\n\r\n", 1)[0]
    status, *lines = head.split(b"\r\n")
    headers: dict[bytes, list[bytes]] = {}
    for line in lines:
        name, _, value = line.partition(b":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    return status, headers


REQUEST_IDS = [
    b"abc\r\n\tSet-Cookie: injected=1",  # obs-fold: a CR/LF continuation line
    b"<script>alert(1)</script>",
    b"a b c",
    b"id;rm -rf",
    b"%0d%0aSet-Cookie:%20injected=1",
    "ünïcode".encode("latin-1"),
    b"\x01\x7f",
    b"x" * 129,
]


@pytest.mark.parametrize("value", REQUEST_IDS)
@pytest.mark.parametrize("path", ["/healthz", "/v1/chat/completions"])
def test_untrusted_request_id_is_replaced_not_echoed(
    gateway: GatewayServer, value: bytes, path: str
) -> None:
    port = gateway.server.config.port
    body = orjson.dumps({"model": "haiku", "messages": [{"role": "user", "content": "x"}]})
    method = b"GET" if path == "/healthz" else b"POST"
    request = (
        b"%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
        b"Content-Type: application/json\r\nX-Request-Id: %s\r\nContent-Length: %d\r\n"
        b"Connection: close\r\n\r\n%s"
        % (
            method,
            path.encode(),
            KEY.encode(),
            value,
            len(body),
            body if method == b"POST" else b"",
        )
    )
    if method == b"GET":
        request = request.replace(b"Content-Length: %d" % len(body), b"Content-Length: 0")
    status, headers = _raw_exchange(port, request)
    if status.startswith(b"HTTP/1.1 400") and b"x-request-id" not in headers:
        return  # the HTTP parser itself refused the header line: nothing echoed either
    assert status.startswith(b"HTTP/1.1 200"), status
    ids = headers[b"x-request-id"]
    assert len(ids) == 1 and FRESH_ID.fullmatch(ids[0].decode()), ids
    assert b"set-cookie" not in headers
    assert all(value not in v for vs in headers.values() for v in vs)


def test_a_plain_token_request_id_is_echoed(client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="haiku",
        messages=[{"role": "user", "content": "x"}],
        extra_headers={"x-request-id": "trace-42.abc_DEF:9"},
    )
    assert raw.headers["x-request-id"] == "trace-42.abc_DEF:9"


@pytest.mark.parametrize("model", ["<script>x</script>", "evil\u2028model", "a\u00e9b", "x" * 300])
def test_unknown_model_names_are_not_echoed_in_headers(gateway: GatewayServer, model: str) -> None:
    response = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": "x"}]},
        headers=auth_header(KEY),
        timeout=10,
    )
    assert response.status_code == 404
    for value in response.headers.values():
        assert model not in value
    assert_openai_error(response.content)


# --- CORS ------------------------------------------------------------------------------------

ORIGIN = "https://app.example.test"
PREFLIGHT = {
    "Origin": ORIGIN,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization,content-type",
}


def test_cors_is_off_by_default(plain_gateway: GatewayServer) -> None:
    preflight = httpx.options(f"{plain_gateway.url}/v1/chat/completions", headers=PREFLIGHT)
    get = httpx.get(f"{plain_gateway.url}/v1/models", headers={"Origin": ORIGIN} | auth_header(KEY))
    assert get.status_code == 200
    for response in (preflight, get):
        assert not any(k.lower().startswith("access-control-") for k in response.headers)


@pytest.fixture(scope="module")
def cors_gateway(
    emulator: RunningEmulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayServer]:
    policy = write_policy(tmp_path_factory.mktemp("cors-policy"))
    with running_gateway(policies=policy, api_keys=KEY, cors_origins=ORIGIN) as server:
        yield server


def test_cors_answers_only_the_configured_origin(cors_gateway: GatewayServer) -> None:
    url = f"{cors_gateway.url}/v1/chat/completions"
    simple = {"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}
    preflight = httpx.options(url, headers=simple)
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == ORIGIN
    get = httpx.get(f"{cors_gateway.url}/v1/models", headers={"Origin": ORIGIN} | auth_header(KEY))
    assert get.headers["access-control-allow-origin"] == ORIGIN
    other = {**PREFLIGHT, "Origin": "https://evil.example.test"}
    refused = httpx.options(url, headers=other)
    assert refused.headers.get("access-control-allow-origin") in (None, "")
    get_other = httpx.get(
        f"{cors_gateway.url}/v1/models",
        headers={"Origin": "https://evil.example.test"} | auth_header(KEY),
    )
    assert "access-control-allow-origin" not in get_other.headers


def test_a_model_call_with_cors_on_takes_the_one_fast_path(cors_gateway: GatewayServer) -> None:
    """With CORS on, a chat POST still goes through the fast path (the same endpoint code as
    with CORS off), and carries the CORS answer headers."""
    assert cors_gateway.app.fast_app is not None
    assert "/v1/chat/completions" in cors_gateway.app.fast_paths
    answer = httpx.post(
        f"{cors_gateway.url}/v1/chat/completions",
        json={"model": "m", "messages": [{"role": "user", "content": "hi"}]},
        headers={"Origin": ORIGIN} | auth_header(KEY),
        timeout=30,
    )
    assert answer.headers["access-control-allow-origin"] == ORIGIN
    exposed = answer.headers["access-control-expose-headers"].lower()
    assert "x-gateway-model" in exposed and "x-request-id" in answer.headers
    other = httpx.post(
        f"{cors_gateway.url}/v1/chat/completions",
        json={"model": "m", "messages": [{"role": "user", "content": "hi"}]},
        headers={"Origin": "https://evil.example.test"} | auth_header(KEY),
        timeout=30,
    )
    assert "access-control-allow-origin" not in other.headers


def test_cors_preflight_of_an_openai_call_is_allowed(cors_gateway: GatewayServer) -> None:
    """What a browser sends before ``openai`` JS calls the gateway: Authorization and JSON."""
    preflight = httpx.options(f"{cors_gateway.url}/v1/chat/completions", headers=PREFLIGHT)
    assert preflight.status_code == 200, preflight.text
    assert preflight.headers["access-control-allow-origin"] == ORIGIN
    allowed = preflight.headers.get("access-control-allow-headers", "").lower()
    assert "authorization" in allowed or allowed == "*"


# --- SSRF: image URLs to private, loopback and link-local addresses --------------------------
# Redirects into private space and DNS answers are vetted per hop in the provider's unit tests:
# tests/unit/providers/test_provider_image_fetch.py (the fetcher refuses loopback, so a
# redirecting server cannot be hosted here end to end).

SSRF_URLS = [
    "http://127.0.0.1/cat.png",
    "http://localhost:8080/cat.png",
    "http://10.0.0.1/cat.png",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]/cat.png",
    "http://[::ffff:127.0.0.1]/cat.png",
    "http://0.0.0.0/cat.png",
    "http://2130706433/cat.png",  # 127.0.0.1 as one number
    "http://0x7f.1/cat.png",  # 127.0.0.1 in inet_aton shorthand
    "http://192.168.1.1/cat.png",
    "http://[fe80::1]/cat.png",
    "file:///etc/passwd",
]


@pytest.fixture(scope="module")
def image_gateway(
    emulator: RunningEmulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayServer]:
    policy = write_policy(tmp_path_factory.mktemp("image-policy"))
    with running_gateway(policies=policy, api_keys=KEY, allow_image_urls=True) as server:
        yield server


@pytest.fixture
def no_outbound(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Fail (and record) any connect from this process to a non-loopback address, so a
    fetcher bug can never send a packet to a private network from the test machine."""
    attempts: list[Any] = []
    real = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> None:
        host = address[0] if isinstance(address, tuple) else ""
        if host and host not in ("127.0.0.1", "::1", "localhost"):
            attempts.append(address)
            raise ConnectionRefusedError(f"outbound connect to {address} blocked by the test")
        real(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    return attempts


@pytest.mark.parametrize("url", SSRF_URLS)
def test_image_urls_to_private_addresses_are_a_clean_400(
    image_gateway: GatewayServer, no_outbound: list[Any], url: str
) -> None:
    body = {
        "model": "haiku",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what is this"},
                    {"type": "image_url", "image_url": {"url": url}},
                ],
            }
        ],
    }
    response = httpx.post(
        f"{image_gateway.url}/v1/chat/completions", json=body, headers=auth_header(KEY), timeout=15
    )
    assert response.status_code == 400, response.text
    error = assert_openai_error(response.content)
    assert error["type"] == "invalid_request_error"
    assert "image" in error["message"].lower()
    if url.startswith("http"):
        assert ("refused" in error["message"]) or ("non-public" in error["message"])
    assert no_outbound == [], "the gateway tried to connect to a private address"


def test_image_urls_are_refused_unless_enabled(gateway: GatewayServer) -> None:
    body = {
        "model": "haiku",
        "messages": [
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": SSRF_URLS[0]}}]}
        ],
    }
    response = httpx.post(
        f"{gateway.url}/v1/chat/completions", json=body, headers=auth_header(KEY), timeout=10
    )
    assert response.status_code == 400
    assert_openai_error(response.content)
