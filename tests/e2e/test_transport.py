"""E2E: the Bedrock transport seen from the client: pool saturation is the gateway's own 503
(never a model's circuit), Bedrock's request id in headers, errors and the access log, and
/readyz while no credentials exist."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator

import httpx2 as httpx
import openai
import orjson
import pytest
from openai.types.chat import ChatCompletionMessageParam

from gateway.config import Settings
from gateway.emulator.runner import RunningEmulator
from gateway.providers import credentials as credentials_module
from tests.e2e.conftest import KEY, POLICY
from tests.support.servers import GatewayServer, running_gateway

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Hi there"}]
HEADER = "x-gateway-upstream-request-id"


@pytest.fixture
def access_lines() -> Iterator[list[str]]:
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    logger = logging.getLogger("gateway.access")
    handler, level = Keep(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield lines
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_request_id_in_header_error_and_access_log(
    gateway: GatewayServer,
    client: openai.OpenAI,
    emulator: RunningEmulator,
    access_lines: list[str],
) -> None:
    raw = client.chat.completions.with_raw_response.create(model="haiku", messages=MESSAGES)
    request_id = raw.headers[HEADER]
    assert len(request_id) >= 32
    deadline = time.monotonic() + 2  # the line is written once the response has gone out
    while not any(f"upstream_request_id={request_id}" in x for x in access_lines):
        assert time.monotonic() < deadline, access_lines
        time.sleep(0.01)

    emulator.state.set_fault(HAIKU, "validation", times=1)
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="haiku", messages=MESSAGES)
    failed_id = info.value.response.headers[HEADER]
    assert failed_id != request_id
    assert f"(x-amzn-requestid: {failed_id})" in info.value.message

    embedded = client.embeddings.with_raw_response.create(model="embed", input=["a", "b"])
    assert len(embedded.headers[HEADER]) >= 32
    assert embedded.headers[HEADER] not in (request_id, failed_id)


def test_a_slow_model_filling_the_pool_leaves_other_circuits_closed(
    emulator: RunningEmulator,
) -> None:
    with running_gateway(
        policies=POLICY, api_keys=KEY, upstream_pool_size=1, upstream_pool_timeout_s=0.2
    ) as server:
        client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=KEY, max_retries=0)
        emulator.state.set_fault(HAIKU, "slow", times=1, delay_ms=2500)
        slow: list[object] = []
        holder = threading.Thread(
            target=lambda: slow.append(
                client.chat.completions.create(model="haiku", messages=MESSAGES)
            )
        )
        holder.start()
        time.sleep(0.3)
        refused = 0
        for _ in range(6):  # chain: mistral-7b, then llama3-8b, then haiku
            with pytest.raises(openai.InternalServerError) as info:
                client.chat.completions.create(model="chain", messages=MESSAGES)
            assert info.value.status_code == 503
            assert info.value.code == "gateway_saturated"
            assert info.value.response.headers["retry-after"] == "1"
            refused += 1
        holder.join(10)
        assert slow, "the slow model's own call must still succeed"
        snapshot = server.state.stats.snapshot()
        for name in ("mistral-7b", "llama3-8b"):
            entry = snapshot.get(name, {"failures": 0, "state": "closed"})
            assert entry["failures"] == 0 and entry["state"] == "closed", (name, entry)
        metrics = httpx.get(f"{server.url}/metrics").text
        assert f"gateway_upstream_pool_exhausted_total {float(refused)}" in metrics
        assert "gateway_upstream_pool_wait_seconds_count" in metrics
        assert client.chat.completions.create(model="chain", messages=MESSAGES).choices


def test_streams_beyond_the_bound_get_a_quick_503_with_retry_after(
    emulator: RunningEmulator,
) -> None:
    """Two slots held by long streams: a third request, plain or streamed, waits the default
    pool timeout (a fraction of a second, not seconds) and gets the SDK's 503 with
    retry-after; once the streams end, requests flow again."""
    default_wait = Settings.model_fields["upstream_pool_timeout_s"].default
    assert default_wait < 1.0
    with running_gateway(policies=POLICY, api_keys=KEY, upstream_pool_size=2) as server:
        client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=KEY, max_retries=0)
        emulator.state.set_fault(HAIKU, "slow", chunk_delay_ms=250)  # ~2.5 s a stream
        held: list[int] = []

        def hold() -> None:
            stream = client.chat.completions.create(model="haiku", messages=MESSAGES, stream=True)
            held.append(sum(1 for _ in stream))

        holders = [threading.Thread(target=hold) for _ in range(2)]
        for thread in holders:
            thread.start()
        deadline = time.monotonic() + 5
        while server.state.bedrock.pool_stats()["in_use"] < 2:
            assert time.monotonic() < deadline, server.state.bedrock.pool_stats()
            time.sleep(0.01)
        for stream in (False, True):
            started = time.monotonic()
            with pytest.raises(openai.APIStatusError) as info:
                client.chat.completions.create(model="haiku", messages=MESSAGES, stream=stream)
            waited = time.monotonic() - started
            assert isinstance(info.value, openai.InternalServerError)
            assert info.value.status_code == 503 and info.value.code == "gateway_saturated"
            assert info.value.response.headers["retry-after"] == "1"
            assert default_wait <= waited < default_wait + 1.5, waited
        for thread in holders:
            thread.join(10)
        assert len(held) == 2 and min(held) > 8  # the held streams were not cut
        emulator.state.clear_faults()
        assert client.chat.completions.create(model="haiku", messages=MESSAGES).choices


def test_readyz_not_ready_until_credentials_appear(
    emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(credentials_module, "RETRY_S", 0.2)
    saved = {k: os.environ.pop(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    try:
        server = GatewayServer(_settings()).start()
    finally:
        os.environ.update(saved)  # the "IRSA token" arrives once the gateway runs
    try:
        seen = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            response = httpx.get(f"{server.url}/readyz")
            seen.append(response.status_code)
            if response.status_code == 200:
                break
            time.sleep(0.1)
        assert seen[-1] == 200
        client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=KEY, max_retries=0)
        assert client.chat.completions.create(model="haiku", messages=MESSAGES).choices
    finally:
        server.stop()


def test_readyz_says_why_without_credentials(
    emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with running_gateway(policies=POLICY, api_keys=KEY) as server:
        response = httpx.get(f"{server.url}/readyz")
        assert response.status_code == 503
        body = orjson.loads(response.content)
        assert body["status"] == "not ready"
        assert "No AWS credentials found" in body["reason"]


def _settings() -> Settings:
    return Settings(policies=POLICY, api_keys=KEY)
