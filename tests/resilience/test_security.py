"""Resilience: security at the edge — admin keys, hashed keys, leaks, headers, CORS, SSRF."""

from __future__ import annotations

import contextlib
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import openai
import orjson
import pytest
from starlette.requests import Request

from gateway.api import deps
from gateway.config import sha256_hex
from gateway.emulator.credentials import EMULATOR_ACCESS_KEY_ID, EMULATOR_SECRET_ACCESS_KEY
from gateway.emulator.runner import RunningEmulator
from gateway.errors import AuthenticationError
from tests.resilience.helpers import (
    ADMIN_KEY,
    HAIKU,
    KEY,
    MARKER,
    MISTRAL,
    TITAN,
    assert_openai_error,
    write_policy,
)
from tests.support.process import GatewayProcess
from tests.support.servers import GatewayServer, running_gateway

WRONG_KEY = "sk-wrong-key-3b1d0a"
HEX64 = re.compile(r"[0-9a-f]{64}")
FRESH_ID = re.compile(r"req_[0-9a-f]{32}")


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


# --- Admin endpoints -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        _auth(KEY),
        _auth(WRONG_KEY),
        {"Authorization": ADMIN_KEY},
        {"Authorization": "Bearer"},
        {"Authorization": f"Basic {ADMIN_KEY}"},
        _auth(ADMIN_KEY.upper()),
        _auth(ADMIN_KEY + "x"),
    ],
    ids=["missing", "client-key", "wrong-key", "no-scheme", "empty", "basic", "case", "suffix"],
)
def test_reload_refuses_anything_but_the_admin_key(
    gateway: GatewayServer, headers: dict[str, str]
) -> None:
    response = httpx.post(f"{gateway.url}/v1/gateway/reload", headers=headers, timeout=10)
    assert response.status_code == 401
    assert assert_openai_error(response.content)["type"] == "authentication_error"
    assert ADMIN_KEY not in response.text and KEY not in response.text


def test_reload_with_the_admin_key_works_and_the_admin_key_is_no_client_key(
    gateway: GatewayServer,
) -> None:
    response = httpx.post(f"{gateway.url}/v1/gateway/reload", headers=_auth(ADMIN_KEY), timeout=10)
    assert response.status_code == 200 and response.json()["status"] == "reloaded"
    chat = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        json={"model": "haiku", "messages": [{"role": "user", "content": "x"}]},
        headers=_auth(ADMIN_KEY),
        timeout=10,
    )
    assert chat.status_code == 401


@pytest.fixture(scope="module")
def plain_gateway(
    emulator: RunningEmulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayServer]:
    """No admin key, no CORS origins: the defaults."""
    policy = write_policy(tmp_path_factory.mktemp("plain-policy"))
    with running_gateway(policies=policy, api_keys=KEY) as server:
        yield server


@pytest.mark.parametrize("key", [None, KEY, ADMIN_KEY])
def test_admin_endpoints_are_off_without_an_admin_key(
    plain_gateway: GatewayServer, key: str | None
) -> None:
    headers = _auth(key) if key else {}
    response = httpx.post(f"{plain_gateway.url}/v1/gateway/reload", headers=headers, timeout=10)
    assert response.status_code == 403
    assert assert_openai_error(response.content)["type"] == "permission_error"


# --- Keys kept as hashes ---------------------------------------------------------------------


def test_only_key_hashes_are_kept(gateway: GatewayServer) -> None:
    state = gateway.state
    hashes = list(state.policy.by_key_hash)
    assert hashes and all(HEX64.fullmatch(h) for h in hashes)
    assert state.admin_key_hash is not None and HEX64.fullmatch(state.admin_key_hash)
    for text in (repr(state.settings), repr(state), repr(state.policy), str(state.settings)):
        assert KEY not in text and ADMIN_KEY not in text


class _Tracked(str):
    """A digest that records being compared with ``==``/``!=`` (variable-time)."""

    compared: list[str] = []  # noqa: RUF012 - class-level record, reset per test

    def __eq__(self, other: object) -> bool:
        _Tracked.compared.append("==")
        return str.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        _Tracked.compared.append("!=")
        return str.__ne__(self, other)

    __hash__ = str.__hash__


def _admin_request(token: str) -> Request:
    scope: dict[str, Any] = {
        "type": "http",
        "method": "POST",
        "path": "/v1/gateway/reload",
        "headers": [(b"authorization", f"Bearer {token}".encode())],
    }
    return Request(scope)


def test_admin_key_digest_is_compared_in_constant_time(
    gateway: GatewayServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = sha256_hex
    monkeypatch.setattr(deps, "sha256_hex", lambda value: _Tracked(real(value)))
    _Tracked.compared = []
    with pytest.raises(AuthenticationError):
        deps.require_admin(_admin_request(WRONG_KEY), gateway.state)
    deps.require_admin(_admin_request(ADMIN_KEY), gateway.state)
    assert _Tracked.compared == [], "the admin digest was compared with a variable-time operator"


# --- No key, credential or prompt in logs and errors -----------------------------------------


def _traffic(url: str, emulator: RunningEmulator) -> list[httpx.Response]:
    """Good and failing requests, every one carrying the prompt marker."""
    prompt = [{"role": "user", "content": f"please keep {MARKER} secret"}]
    chat = f"{url}/v1/chat/completions"
    out: list[httpx.Response] = []
    with httpx.Client(timeout=30) as http:
        out.append(http.post(chat, json={"model": "haiku", "messages": prompt}, headers=_auth(KEY)))
        out.append(
            http.post(
                chat,
                json={"model": "haiku", "messages": prompt, "stream": True},
                headers=_auth(KEY),
            )
        )
        out.append(
            http.post(chat, json={"model": "haiku", "messages": prompt}, headers=_auth(WRONG_KEY))
        )
        out.append(http.post(chat, json={"model": "nope", "messages": prompt}, headers=_auth(KEY)))
        out.append(
            http.post(
                chat,
                json={"model": "haiku", "messages": prompt, "temperature": 7},
                headers=_auth(KEY),
            )
        )
        out.append(http.post(chat, content=f'{{"model": "{MARKER}", ', headers=_auth(KEY)))
        out.append(
            http.post(
                chat,
                json={"model": "haiku", "messages": [{"role": "assistant", "content": MARKER}]},
                headers=_auth(KEY),
            )
        )
        for model, mode in ((HAIKU, "validation"), (HAIKU, "internal"), (MISTRAL, "throttle")):
            emulator.state.set_fault(model, mode, times=1)
            route = "chain" if model == MISTRAL else "haiku"
            out.append(
                http.post(chat, json={"model": route, "messages": prompt}, headers=_auth(KEY))
            )
        out.append(
            http.post(
                f"{url}/v1/embeddings",
                json={"model": "embed", "input": [MARKER]},
                headers=_auth(KEY),
            )
        )
        emulator.state.set_fault(TITAN, "model_error", times=1)
        out.append(
            http.post(
                f"{url}/v1/embeddings",
                json={"model": "embed", "input": [MARKER]},
                headers=_auth(KEY),
            )
        )
        out.append(http.post(f"{url}/v1/gateway/reload", headers=_auth(WRONG_KEY)))
        out.append(http.post(f"{url}/v1/gateway/reload", headers=_auth(ADMIN_KEY)))
    return out


SECRETS = {
    "client key": KEY,
    "wrong key": WRONG_KEY,
    "admin key": ADMIN_KEY,
    "AWS secret": EMULATOR_SECRET_ACCESS_KEY,
    "prompt": MARKER,
}


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
def test_no_key_credential_or_prompt_in_logs_or_answers(
    emulator: RunningEmulator, tmp_path: Path, level: str
) -> None:
    policy = write_policy(tmp_path)
    process = GatewayProcess(
        {
            "GATEWAY_API_KEYS": KEY,
            "GATEWAY_ADMIN_KEY": ADMIN_KEY,
            "GATEWAY_POLICIES": str(policy),
            "GATEWAY_LOG_FORMAT": "json",
            "GATEWAY_LOG_LEVEL": level,
        },
        log_path=tmp_path / "gateway.log",
    ).wait_ready()
    try:
        responses = _traffic(process.url, emulator)
    finally:
        code = process.stop()
    assert code == 0
    statuses = [r.status_code for r in responses]
    assert 200 in statuses and 401 in statuses and 400 in statuses and 502 in statuses
    output = process.output()
    lines = [line for line in output.splitlines() if line.strip()]
    assert sum('"event":"request"' in line for line in lines) >= 12  # the access log ran
    for what, secret in SECRETS.items():
        assert secret not in output, f"{what} found in the gateway's log"
        for response in responses:
            # a success may quote the prompt back (the emulator's model does); nothing else may
            if what != "prompt" or response.status_code >= 400 or b'"error"' in response.content:
                assert secret not in response.text, f"{what} found in an answer: {response.text}"
            assert all(secret not in v for v in response.headers.values())
    assert EMULATOR_ACCESS_KEY_ID not in output or level == "DEBUG"


@pytest.mark.parametrize(
    "body",
    [
        {"model": "haiku", "messages": [{"role": "assistant", "content": MARKER}]},
        {"model": "haiku", "messages": [{"role": "user", "content": MARKER}], "max_tokens": -1},
        {"model": "haiku", "messages": [{"role": "user", "content": MARKER}], "temperature": 5},
        {"model": "haiku", "messages": [{"role": "user", "content": MARKER}], "n": 3},
        {"model": "haiku", "messages": [{"role": "wizard", "content": MARKER}]},
        {
            "model": "haiku",
            "messages": [{"role": "user", "content": [{"type": "text", "text": 1}]}],
        },
        {
            "model": "haiku",
            "messages": [
                {"role": "user", "content": [{"type": "input_audio", "input_audio": MARKER}]}
            ],
        },
        {"model": "nope", "messages": [{"role": "user", "content": MARKER}]},
        {"model": "llama3-8b", "messages": [{"role": "user", "content": MARKER * 9000}]},
        {"model": "haiku", "messages": [{"role": "tool", "content": MARKER, "tool_call_id": "x"}]},
    ],
)
def test_error_messages_never_carry_the_prompt(client: openai.OpenAI, body: dict[str, Any]) -> None:
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(**body)
    assert 400 <= info.value.status_code < 500
    assert_openai_error(info.value.response.content)  # includes: MARKER not in it


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
        headers=_auth(KEY),
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
    get = httpx.get(f"{plain_gateway.url}/v1/models", headers={"Origin": ORIGIN} | _auth(KEY))
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
    get = httpx.get(f"{cors_gateway.url}/v1/models", headers={"Origin": ORIGIN} | _auth(KEY))
    assert get.headers["access-control-allow-origin"] == ORIGIN
    other = {**PREFLIGHT, "Origin": "https://evil.example.test"}
    refused = httpx.options(url, headers=other)
    assert refused.headers.get("access-control-allow-origin") in (None, "")
    get_other = httpx.get(
        f"{cors_gateway.url}/v1/models",
        headers={"Origin": "https://evil.example.test"} | _auth(KEY),
    )
    assert "access-control-allow-origin" not in get_other.headers


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
        f"{image_gateway.url}/v1/chat/completions", json=body, headers=_auth(KEY), timeout=15
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
        f"{gateway.url}/v1/chat/completions", json=body, headers=_auth(KEY), timeout=10
    )
    assert response.status_code == 400
    assert_openai_error(response.content)
