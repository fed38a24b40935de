"""E2E: every client-visible error as the openai SDK sees it — class, status, message, param."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import openai
import pytest

from gateway.emulator.runner import RunningEmulator
from tests.e2e.conftest import KEY, POLICY
from tests.support.servers import GatewayServer, running_gateway

HELLO = [{"role": "user", "content": "hello"}]


def _post(url: str, body: bytes | dict[str, Any], key: str | None = KEY) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    content = body if isinstance(body, bytes) else httpx.Request("POST", url, json=body).content
    return httpx.post(f"{url}/v1/chat/completions", content=content, headers=headers, timeout=30)


def _assert_openai_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert "Traceback" not in error["message"]
    return error


def test_missing_key(gateway: GatewayServer) -> None:
    error = _assert_openai_error(
        _post(gateway.url, {"model": "haiku", "messages": HELLO}, None), 401
    )
    assert error["type"] == "authentication_error"


def test_wrong_key(gateway: GatewayServer) -> None:
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as info:
        client.chat.completions.create(model="haiku", messages=HELLO)  # type: ignore[arg-type]
    assert "sk-wrong" not in str(info.value)


def test_malformed_json_is_400(gateway: GatewayServer) -> None:
    error = _assert_openai_error(_post(gateway.url, b'{"model": "haiku", "messages": ['), 400)
    assert error["type"] == "invalid_request_error"
    assert "JSON" in error["message"]


def test_missing_field_is_400_naming_it(gateway: GatewayServer) -> None:
    error = _assert_openai_error(_post(gateway.url, {"model": "haiku"}), 400)
    assert error["param"] == "messages"


def test_invalid_field_is_400_not_422(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="haiku", messages=HELLO, temperature=5)  # type: ignore[arg-type]
    assert info.value.status_code == 400
    assert info.value.param == "temperature"


def test_unknown_parameter_is_refused(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(
            model="haiku",
            messages=HELLO,
            extra_body={"frobnicate": 1},  # type: ignore[arg-type]
        )
    assert info.value.param == "frobnicate"


def test_unsupported_parameter_names_it(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="haiku", messages=HELLO, n=2)  # type: ignore[arg-type]
    assert info.value.param == "n"


def test_unknown_model_is_404_naming_it(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="gpt-17-ultra", messages=HELLO)  # type: ignore[arg-type]
    assert "gpt-17-ultra" in info.value.message


def test_assistant_first_conversation_is_400(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(
            model="haiku",
            messages=[{"role": "assistant", "content": "hi"}, {"role": "user", "content": "x"}],
        )
    assert info.value.param is not None and info.value.param.startswith("messages")


def test_remote_image_url_refused_by_default(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(
            model="haiku",
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "look"},
                        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
                    ],
                }
            ],
        )
    assert "data:" in info.value.message


def test_unknown_url_is_openai_404(gateway: GatewayServer) -> None:
    response = httpx.get(
        f"{gateway.url}/v1/nothing-here", headers={"Authorization": f"Bearer {KEY}"}
    )
    _assert_openai_error(response, 404)


@pytest.fixture(scope="module")
def small_gateway(emulator: RunningEmulator) -> Iterator[GatewayServer]:
    with running_gateway(policies=POLICY, api_keys=KEY, max_body_bytes=2048) as server:
        yield server


def test_oversized_body_is_413(small_gateway: GatewayServer) -> None:
    client = openai.OpenAI(base_url=f"{small_gateway.url}/v1", api_key=KEY, max_retries=0)
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(
            model="haiku", messages=[{"role": "user", "content": "x" * 5000}]
        )
    assert info.value.status_code == 413


HAIKU_ID = "anthropic.claude-3-haiku-20240307-v1:0"


def test_an_upstream_200_of_the_wrong_shape_is_a_502_naming_the_model(
    gateway: GatewayServer, emulator: RunningEmulator
) -> None:
    emulator.state.set_fault(HAIKU_ID, "wrong_shape")
    response = _post(gateway.url, {"model": "haiku", "messages": HELLO})
    error = _assert_openai_error(response, 502)
    assert error["type"] == "server_error" and error["code"] == "upstream_malformed_response"
    assert HAIKU_ID in error["message"] and "not a Converse response" in error["message"]
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=KEY, max_retries=0)
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(model="haiku", messages=HELLO)  # type: ignore[arg-type]
    assert info.value.status_code == 502


def test_an_embedding_200_of_the_wrong_shape_is_a_502_naming_the_model(
    gateway: GatewayServer, emulator: RunningEmulator
) -> None:
    emulator.state.set_fault("amazon.titan-embed-text-v2:0", "wrong_shape")
    response = httpx.post(
        f"{gateway.url}/v1/embeddings",
        json={"model": "embed", "input": "x"},
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=30,
    )
    error = _assert_openai_error(response, 502)
    assert "amazon.titan-embed-text-v2:0" in error["message"]


@pytest.mark.parametrize("path", ["/v1/chat/completions/", "/v1/models/", "/healthz/", "/ui/"])
def test_no_response_is_built_from_the_host_header(gateway: GatewayServer, path: str) -> None:
    """Starlette's trailing-slash redirect would send clients to ``http://<Host>/...``."""
    for method in ("GET", "POST"):
        response = httpx.request(
            method,
            f"{gateway.url}{path}",
            headers={"Host": "attacker.example", "Authorization": f"Bearer {KEY}"},
            follow_redirects=False,
            timeout=10,
        )
        assert "location" not in response.headers
        assert "attacker.example" not in response.text
        assert response.status_code in (404, 405)  # /v1/models/{model} takes GET only
        _assert_openai_error(response, response.status_code)


def test_an_answer_that_cost_nothing_says_so(
    gateway: GatewayServer, emulator: RunningEmulator
) -> None:
    """A refused call (Bedrock's validation error) is not billed: its cost header is 0."""
    emulator.state.set_fault(HAIKU_ID, "validation")
    response = _post(gateway.url, {"model": "haiku", "messages": HELLO})
    _assert_openai_error(response, 400)
    assert response.headers["x-gateway-route"] == "haiku"
    assert float(response.headers["x-gateway-cost-usd"]) == 0


@pytest.mark.parametrize(
    ("field", "value"), [("max_tokens", "5"), ("max_tokens", True), ("temperature", "0")]
)
def test_json_types_are_strict(gateway: GatewayServer, field: str, value: object) -> None:
    response = _post(gateway.url, {"model": "haiku", "messages": HELLO, field: value})
    error = _assert_openai_error(response, 400)
    assert error["param"] == field and f"Invalid type for '{field}'" in error["message"]
