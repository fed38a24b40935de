"""Integration tests: BedrockClient against the Bedrock emulator (which verifies SigV4)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import orjson
import pytest
from botocore.credentials import Credentials

from gateway.emulator.credentials import (
    EMULATOR_ACCESS_KEY_ID,
    EMULATOR_REGION,
    EMULATOR_SECRET_ACCESS_KEY,
)
from gateway.emulator.runner import RunningEmulator, start_emulator_in_thread
from gateway.errors import (
    ModelAccessDeniedError,
    ModelNotReadyError,
    UpstreamAccessDeniedError,
    UpstreamError,
    UpstreamModelError,
    UpstreamServerError,
    UpstreamThrottledError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
    UpstreamValidationError,
)
from gateway.providers.bedrock import BedrockClient

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
PROFILE = "us.anthropic.claude-3-5-sonnet-20241022-v2:0"
TITAN = "amazon.titan-embed-text-v2:0"
ARN = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.meta.llama3-1-8b-instruct-v1:0"
BODY = orjson.dumps({"messages": [{"role": "user", "content": [{"text": "hello there"}]}]})
ORDER_HEAD = ["messageStart", "contentBlockDelta"]
ORDER_TAIL = ["contentBlockStop", "messageStop", "metadata"]


@pytest.fixture(scope="module")
def emu() -> Iterator[RunningEmulator]:
    running = start_emulator_in_thread("127.0.0.1", 0)
    yield running
    running.stop()


@pytest.fixture
async def client(emu: RunningEmulator) -> AsyncIterator[BedrockClient]:
    emu.state.clear_faults()
    creds = Credentials(EMULATOR_ACCESS_KEY_ID, EMULATOR_SECRET_ACCESS_KEY)
    async with BedrockClient(emu.url, EMULATOR_REGION, creds) as bedrock:
        yield bedrock
        assert bedrock.pool_stats()["in_use"] == 0
    emu.state.clear_faults()


async def _events(client: BedrockClient, model: str, timeout: float = 5.0) -> list[Any]:
    async with await client.converse_stream(model, BODY, timeout=timeout) as stream:
        return [event async for event in stream]


@pytest.mark.parametrize("model", [HAIKU, PROFILE, ARN])
async def test_converse(client: BedrockClient, model: str) -> None:
    answer = await client.converse(model, BODY, timeout=5.0)
    assert answer["output"]["message"]["role"] == "assistant"
    assert answer["output"]["message"]["content"][0]["text"]
    assert answer["usage"]["totalTokens"] > 0


@pytest.mark.parametrize("model", [HAIKU, ARN])
async def test_converse_stream_event_order(client: BedrockClient, model: str) -> None:
    events = await _events(client, model)
    names = [name for name, _ in events]
    assert names[:2] == ORDER_HEAD and names[-3:] == ORDER_TAIL
    assert set(names[1:-3]) == {"contentBlockDelta"}
    text = "".join(
        payload["delta"]["text"] for name, payload in events if name == "contentBlockDelta"
    )
    answer = await client.converse(model, BODY, timeout=5.0)
    assert text == answer["output"]["message"]["content"][0]["text"]
    assert events[-1][1]["usage"]["outputTokens"] > 0


async def test_invoke_model_embeddings(client: BedrockClient) -> None:
    titan = await client.invoke_model(
        TITAN,
        orjson.dumps({"inputText": "hello", "dimensions": 256}),
        timeout=5.0,
    )
    assert len(titan.body["embedding"]) == 256
    assert "x-amzn-requestid" in {key.lower() for key in titan.headers}
    cohere = await client.invoke_model(
        "cohere.embed-english-v3",
        orjson.dumps({"texts": ["a", "b"], "input_type": "search_document"}),
        timeout=5.0,
    )
    assert len(cohere.body["embeddings"]) == 2


FAULTS: list[tuple[str, type[UpstreamError]]] = [
    ("throttle", UpstreamThrottledError),
    ("unavailable", UpstreamUnavailableError),
    ("internal", UpstreamServerError),
    ("not_ready", ModelNotReadyError),
    ("model_error", UpstreamModelError),
    ("timeout", UpstreamTimeoutError),
    ("access_denied", ModelAccessDeniedError),
    ("validation", UpstreamValidationError),
]


@pytest.mark.parametrize(("mode", "cls"), FAULTS)
async def test_error_faults(
    client: BedrockClient, emu: RunningEmulator, mode: str, cls: type[UpstreamError]
) -> None:
    emu.state.set_fault("*", mode)
    with pytest.raises(cls) as info:
        await client.converse(HAIKU, BODY, timeout=5.0)
    assert type(info.value) is cls
    assert HAIKU in info.value.message
    with pytest.raises(cls):
        await client.converse_stream(HAIKU, BODY, timeout=5.0)
    with pytest.raises(cls):
        await client.invoke_model(TITAN, b'{"inputText":"x"}', timeout=5.0)


async def test_fault_applies_only_times(client: BedrockClient, emu: RunningEmulator) -> None:
    emu.state.set_fault(HAIKU, "throttle", times=1)
    with pytest.raises(UpstreamThrottledError):
        await client.converse(HAIKU, BODY, timeout=5.0)
    assert (await client.converse(HAIKU, BODY, timeout=5.0))["stopReason"]


@pytest.mark.parametrize(
    ("mode", "cls", "match"),
    [
        ("stream_throttle", UpstreamThrottledError, "ThrottlingException"),
        ("break_stream", UpstreamServerError, "ModelStreamErrorException"),
        ("drop_stream", UpstreamServerError, "Bedrock stream"),
        ("truncate_frame", UpstreamServerError, "Bedrock stream"),
    ],
)
async def test_stream_faults(
    client: BedrockClient, emu: RunningEmulator, mode: str, cls: type[UpstreamError], match: str
) -> None:
    emu.state.set_fault(HAIKU, mode, after_chunks=2)
    seen: list[str] = []
    with pytest.raises(cls, match=match):
        async with await client.converse_stream(HAIKU, BODY, timeout=5.0) as stream:
            async for name, _ in stream:
                seen.append(name)
    assert "metadata" not in seen
    if mode != "stream_throttle":
        assert seen.count("contentBlockDelta") == 2


async def test_wrong_secret_is_access_denied(emu: RunningEmulator) -> None:
    creds = Credentials(EMULATOR_ACCESS_KEY_ID, "not-the-secret")
    async with BedrockClient(emu.url, EMULATOR_REGION, creds) as bedrock:
        with pytest.raises(UpstreamAccessDeniedError, match="credentials were refused") as info:
            await bedrock.converse(HAIKU, BODY, timeout=5.0)
        assert EMULATOR_ACCESS_KEY_ID not in info.value.message
        with pytest.raises(UpstreamAccessDeniedError):
            await bedrock.converse_stream(HAIKU, BODY, timeout=5.0)


async def test_unknown_key_is_access_denied(emu: RunningEmulator) -> None:
    creds = Credentials("AKIAUNKNOWN000000000", "whatever")
    async with BedrockClient(emu.url, EMULATOR_REGION, creds) as bedrock:
        with pytest.raises(UpstreamAccessDeniedError) as info:
            await bedrock.converse(HAIKU, BODY, timeout=5.0)
        assert "AKIAUNKNOWN" not in info.value.message


async def _assert_times_out(coro: Any, limit: float) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(UpstreamTimeoutError):
        await coro
    assert loop.time() - started < limit


@pytest.mark.parametrize("mode", ["hang", "slow"])
async def test_hang_and_slow_time_out(
    client: BedrockClient, emu: RunningEmulator, mode: str
) -> None:
    emu.state.set_fault(HAIKU, mode, delay_ms=3000)
    await _assert_times_out(client.converse(HAIKU, BODY, timeout=0.3), 0.3 + 0.5)
    await _assert_times_out(client.converse_stream(HAIKU, BODY, timeout=0.3), 0.3 + 0.5)
    emu.state.clear_faults()
    await asyncio.sleep(0)


async def test_stalled_stream_times_out_between_frames(
    client: BedrockClient, emu: RunningEmulator
) -> None:
    emu.state.set_fault(HAIKU, "slow", chunk_delay_ms=2000)
    stream = await client.converse_stream(HAIKU, BODY, timeout=0.3)
    async with stream:
        assert (await stream.__anext__())[0] == "messageStart"
        await _assert_times_out(stream.__anext__(), 0.3 + 0.5)


async def test_slow_stream_within_idle_timeout_completes(
    client: BedrockClient, emu: RunningEmulator
) -> None:
    emu.state.set_fault(HAIKU, "slow", chunk_delay_ms=20)
    names = [name for name, _ in await _events(client, HAIKU, timeout=0.5)]
    assert names[-1] == "metadata"


async def test_a_stream_longer_than_many_idle_timeouts_completes(
    client: BedrockClient, emu: RunningEmulator
) -> None:
    """The idle timer re-arms while frames keep coming: 12 frames 150 ms apart (about 1.7 s,
    over five times the 0.3 s gap allowed) end normally."""
    emu.state.set_fault(HAIKU, "slow", chunk_delay_ms=150)
    loop = asyncio.get_running_loop()
    started = loop.time()
    names = [name for name, _ in await _events(client, HAIKU, timeout=0.3)]
    assert names[-1] == "metadata"
    assert loop.time() - started > 5 * 0.3


async def test_a_consumer_busy_elsewhere_is_not_a_stalled_stream(
    client: BedrockClient, emu: RunningEmulator
) -> None:
    """Only a wait for Bedrock counts: a consumer that stops reading for longer than the gap
    allowed (a slow client downstream) finds the buffered frames when it comes back."""
    stream = await client.converse_stream(HAIKU, BODY, timeout=0.2)
    async with stream:
        assert (await stream.__anext__())[0] == "messageStart"
        await asyncio.sleep(0.7)
        names = [name async for name, _ in stream]
    assert names[-1] == "metadata"


async def test_early_aclose_leaves_no_connection_in_use(
    client: BedrockClient, emu: RunningEmulator
) -> None:
    emu.state.set_fault(HAIKU, "slow", chunk_delay_ms=300)
    streams = [await client.converse_stream(HAIKU, BODY, timeout=5.0) for _ in range(5)]
    assert client.pool_stats()["in_use"] == 5
    for stream in streams:
        assert (await stream.__anext__())[0] == "messageStart"
        await stream.aclose()
        await stream.aclose()
    assert client.pool_stats()["in_use"] == 0
    emu.state.clear_faults()
    await _events(client, HAIKU)
    stats = client.pool_stats()
    assert stats["in_use"] == 0 and stats["idle"] >= 1


async def test_cancelled_consumer_releases_with_async_with(
    client: BedrockClient, emu: RunningEmulator
) -> None:
    emu.state.set_fault(HAIKU, "slow", chunk_delay_ms=1000)

    async def consume() -> None:
        async with await client.converse_stream(HAIKU, BODY, timeout=5.0) as stream:
            async for _ in stream:
                pass

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.2)
    assert client.pool_stats()["in_use"] == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert client.pool_stats()["in_use"] == 0


async def test_connections_are_reused(client: BedrockClient) -> None:
    for _ in range(5):
        await client.converse(HAIKU, BODY, timeout=5.0)
        await _events(client, HAIKU)
    stats = client.pool_stats()
    assert stats == {"in_use": 0, "idle": 1, "limit": 4096}  # the default bound


async def test_concurrent_calls(client: BedrockClient) -> None:
    answers = await asyncio.gather(*(client.converse(HAIKU, BODY, timeout=5.0) for _ in range(50)))
    assert len({answer["output"]["message"]["content"][0]["text"] for answer in answers}) == 1


async def test_connection_refused_is_unavailable() -> None:
    creds = Credentials("A", "B")
    async with BedrockClient("http://127.0.0.1:9", EMULATOR_REGION, creds) as bedrock:
        with pytest.raises(UpstreamUnavailableError):
            await bedrock.converse(HAIKU, BODY, timeout=2.0)
        with pytest.raises(UpstreamUnavailableError):
            await bedrock.converse_stream(HAIKU, BODY, timeout=2.0)
