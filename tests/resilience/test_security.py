"""Resilience: security of keys — admin endpoints, hashed keys, no secret in logs or errors."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx2 as httpx
import openai
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
    auth_header,
    write_policy,
)
from tests.support.process import GatewayProcess
from tests.support.servers import GatewayServer

WRONG_KEY = "sk-wrong-key-3b1d0a"
HEX64 = re.compile(r"[0-9a-f]{64}")
FRESH_ID = re.compile(r"req_[0-9a-f]{32}")


# --- Admin endpoints -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        auth_header(KEY),
        auth_header(WRONG_KEY),
        {"Authorization": ADMIN_KEY},
        {"Authorization": "Bearer"},
        {"Authorization": f"Basic {ADMIN_KEY}"},
        auth_header(ADMIN_KEY.upper()),
        auth_header(ADMIN_KEY + "x"),
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
    response = httpx.post(
        f"{gateway.url}/v1/gateway/reload", headers=auth_header(ADMIN_KEY), timeout=10
    )
    assert response.status_code == 200 and response.json()["status"] == "reloaded"
    chat = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        json={"model": "haiku", "messages": [{"role": "user", "content": "x"}]},
        headers=auth_header(ADMIN_KEY),
        timeout=10,
    )
    assert chat.status_code == 401


@pytest.mark.parametrize("key", [None, KEY, ADMIN_KEY])
def test_admin_endpoints_are_off_without_an_admin_key(
    plain_gateway: GatewayServer, key: str | None
) -> None:
    headers = auth_header(key) if key else {}
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
        out.append(
            http.post(chat, json={"model": "haiku", "messages": prompt}, headers=auth_header(KEY))
        )
        out.append(
            http.post(
                chat,
                json={"model": "haiku", "messages": prompt, "stream": True},
                headers=auth_header(KEY),
            )
        )
        out.append(
            http.post(
                chat, json={"model": "haiku", "messages": prompt}, headers=auth_header(WRONG_KEY)
            )
        )
        out.append(
            http.post(chat, json={"model": "nope", "messages": prompt}, headers=auth_header(KEY))
        )
        out.append(
            http.post(
                chat,
                json={"model": "haiku", "messages": prompt, "temperature": 7},
                headers=auth_header(KEY),
            )
        )
        out.append(http.post(chat, content=f'{{"model": "{MARKER}", ', headers=auth_header(KEY)))
        out.append(
            http.post(
                chat,
                json={"model": "haiku", "messages": [{"role": "assistant", "content": MARKER}]},
                headers=auth_header(KEY),
            )
        )
        for model, mode in ((HAIKU, "validation"), (HAIKU, "internal"), (MISTRAL, "throttle")):
            emulator.state.set_fault(model, mode, times=1)
            route = "chain" if model == MISTRAL else "haiku"
            out.append(
                http.post(chat, json={"model": route, "messages": prompt}, headers=auth_header(KEY))
            )
        out.append(
            http.post(
                f"{url}/v1/embeddings",
                json={"model": "embed", "input": [MARKER]},
                headers=auth_header(KEY),
            )
        )
        emulator.state.set_fault(TITAN, "model_error", times=1)
        out.append(
            http.post(
                f"{url}/v1/embeddings",
                json={"model": "embed", "input": [MARKER]},
                headers=auth_header(KEY),
            )
        )
        out.append(http.post(f"{url}/v1/gateway/reload", headers=auth_header(WRONG_KEY)))
        out.append(http.post(f"{url}/v1/gateway/reload", headers=auth_header(ADMIN_KEY)))
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
