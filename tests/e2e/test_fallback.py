"""E2E: Bedrock failures from the emulator — fallback in order, final errors, stream errors."""

from __future__ import annotations

import httpx2 as httpx
import openai
import pytest

from gateway.emulator.runner import RunningEmulator
from tests.e2e.conftest import ADMIN_KEY, KEY
from tests.support.openai_wire import stream_raw
from tests.support.servers import GatewayServer

MISTRAL = "mistral.mistral-7b-instruct-v0:2"
LLAMA = "meta.llama3-8b-instruct-v1:0"
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
HELLO = [{"role": "user", "content": "hello"}]


@pytest.mark.parametrize("mode", ["throttle", "unavailable", "internal", "not_ready", "timeout"])
def test_retryable_failure_falls_back_in_order(
    client: openai.OpenAI, emulator: RunningEmulator, mode: str
) -> None:
    emulator.state.set_fault(MISTRAL, mode)
    raw = client.chat.completions.with_raw_response.create(model="chain", messages=HELLO)
    assert raw.headers["x-gateway-model"] == LLAMA
    assert raw.headers["x-gateway-attempts"] == "2"


def test_validation_error_never_falls_back(
    client: openai.OpenAI, emulator: RunningEmulator
) -> None:
    emulator.state.set_fault(MISTRAL, "validation")
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="chain", messages=HELLO)  # type: ignore[arg-type]
    assert info.value.response.headers["x-gateway-attempts"] == "1"


def test_all_throttled_is_429_with_retry_after(
    client: openai.OpenAI, emulator: RunningEmulator
) -> None:
    emulator.state.set_fault("*", "throttle")
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model="chain", messages=HELLO)  # type: ignore[arg-type]
    assert info.value.response.headers["retry-after"]
    assert info.value.response.headers["x-gateway-attempts"] == "3"


def test_unavailable_single_model_is_503_with_retry_after(
    client: openai.OpenAI, emulator: RunningEmulator
) -> None:
    emulator.state.set_fault(HAIKU, "unavailable")
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(model="haiku", messages=HELLO)  # type: ignore[arg-type]
    assert info.value.status_code == 503
    assert info.value.response.headers["retry-after"]


def test_model_timeout_is_504(client: openai.OpenAI, emulator: RunningEmulator) -> None:
    emulator.state.set_fault(HAIKU, "timeout")
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(model="haiku", messages=HELLO)  # type: ignore[arg-type]
    assert info.value.status_code == 504


def test_no_access_to_a_model_falls_back_and_benches_it(
    client: openai.OpenAI, gateway: GatewayServer, emulator: RunningEmulator
) -> None:
    emulator.state.set_fault(MISTRAL, "access_denied")
    raw = client.chat.completions.with_raw_response.create(model="chain", messages=HELLO)
    assert raw.headers["x-gateway-model"] == LLAMA
    assert raw.headers["x-gateway-attempts"] == "2"
    calls = sum(emulator.state.counts().get(MISTRAL, {}).values())
    # The bench keeps the next request off the refused model without asking Bedrock again.
    raw = client.chat.completions.with_raw_response.create(model="chain", messages=HELLO)
    assert raw.headers["x-gateway-model"] == LLAMA
    assert raw.headers["x-gateway-attempts"] == "1"
    assert sum(emulator.state.counts().get(MISTRAL, {}).values()) == calls
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    benches = httpx.get(f"{gateway.url}/v1/gateway/benches", headers=admin).json()["data"]
    assert [b["model"] for b in benches] == ["mistral-7b"]
    assert "access denied" in benches[0]["reason"]
    explained = httpx.post(
        f"{gateway.url}/v1/gateway/explain",
        headers={"Authorization": f"Bearer {KEY}"},
        json={"model": "chain", "messages": HELLO},
    ).json()
    mistral = next(c for c in explained["candidates"] if c["model"] == "mistral-7b")
    assert not mistral["kept"]
    assert mistral["reason"].startswith("benched: Bedrock refused model access denied")
    page = httpx.get(f"{gateway.url}/ui", headers=admin).text
    assert "benched: Bedrock refused model access denied" in page
    metrics = httpx.get(f"{gateway.url}/metrics").text
    assert 'gateway_model_refusals_total{model="mistral-7b",reason="model_access_denied"} 1.0' in (
        metrics
    )


def test_a_lifted_bench_sends_requests_to_the_model_again(
    client: openai.OpenAI, gateway: GatewayServer, emulator: RunningEmulator
) -> None:
    emulator.state.set_fault(MISTRAL, "access_denied")
    client.chat.completions.create(model="chain", messages=HELLO)  # type: ignore[arg-type]
    emulator.state.clear_faults()
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    lifted = httpx.delete(
        f"{gateway.url}/v1/gateway/benches", params={"model": "mistral-7b"}, headers=admin
    )
    assert lifted.json() == {"lifted": 1}
    raw = client.chat.completions.with_raw_response.create(model="chain", messages=HELLO)
    assert raw.headers["x-gateway-model"] == MISTRAL
    unknown = httpx.delete(
        f"{gateway.url}/v1/gateway/benches", params={"model": "nope"}, headers=admin
    )
    assert unknown.status_code == 404
    assert httpx.delete(f"{gateway.url}/v1/gateway/benches").status_code in (401, 403)


def test_no_access_on_the_only_candidate_is_503_naming_the_model(
    client: openai.OpenAI, emulator: RunningEmulator
) -> None:
    """Model-level refusals are no client error: 503 (the SDK's InternalServerError) with the
    model and Bedrock's reason, first from Bedrock, then from the bench."""
    emulator.state.set_fault(HAIKU, "access_denied")
    for _ in range(2):
        with pytest.raises(openai.InternalServerError) as info:
            client.chat.completions.create(model="haiku", messages=HELLO)  # type: ignore[arg-type]
        assert info.value.status_code == 503
        assert info.value.response.headers["retry-after"]
        assert "claude-3-haiku" in str(info.value.message)


def test_model_error_is_502(client: openai.OpenAI, emulator: RunningEmulator) -> None:
    emulator.state.set_fault(HAIKU, "model_error")
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(model="haiku", messages=HELLO)  # type: ignore[arg-type]
    assert info.value.status_code == 502


def test_stream_throttled_in_first_frame_falls_back(
    gateway: GatewayServer, emulator: RunningEmulator
) -> None:
    emulator.state.set_fault(MISTRAL, "stream_throttle")
    response, events, done = stream_raw(gateway.url, KEY, {"model": "chain", "messages": HELLO})
    assert response.status_code == 200
    assert response.headers["x-gateway-model"] == LLAMA
    assert done and not any("error" in e for e in events)


def test_stream_broken_after_first_byte_ends_with_error_event(
    client: openai.OpenAI, emulator: RunningEmulator
) -> None:
    emulator.state.set_fault(HAIKU, "break_stream", after_chunks=2)
    stream = client.chat.completions.create(model="haiku", messages=HELLO, stream=True)  # type: ignore[arg-type]
    received = []
    with pytest.raises(openai.APIError):
        for chunk in stream:
            received.append(chunk)
    assert received, "some chunks arrived before the error"


@pytest.mark.parametrize("mode", ["drop_stream", "truncate_frame"])
def test_stream_cut_off_ends_with_error_event(
    gateway: GatewayServer, emulator: RunningEmulator, mode: str
) -> None:
    emulator.state.set_fault(HAIKU, mode, after_chunks=2)
    response, events, done = stream_raw(gateway.url, KEY, {"model": "haiku", "messages": HELLO})
    assert response.status_code == 200
    assert events and "error" in events[-1]
    assert events[-1]["error"]["type"] == "server_error"
    assert not done


def test_stream_failure_before_first_byte_is_a_plain_error(
    client: openai.OpenAI, emulator: RunningEmulator
) -> None:
    emulator.state.set_fault(HAIKU, "throttle")
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="haiku", messages=HELLO, stream=True)  # type: ignore[arg-type]
