"""Emulator: every fault mode as boto3's real client sees it."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import EventStreamError, ReadTimeoutError
from urllib3.exceptions import ProtocolError

from gateway.emulator.runner import RunningEmulator

# Faults act on any model id, so these tests run the emulator lenient.
pytestmark = pytest.mark.lenient
MODEL = "meta.llama3-8b-instruct-v1:0"
USER = [{"role": "user", "content": [{"text": "hello"}]}]
ERROR_FAULTS: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "data" / "error_faults.json").read_text()
)


def _deltas(events: list[dict[str, Any]]) -> int:
    return sum(1 for event in events if "contentBlockDelta" in event)


def _collect(stream: Any, sink: list[dict[str, Any]]) -> None:
    for event in stream:
        sink.append(event)


@pytest.mark.parametrize("case", ERROR_FAULTS, ids=[case["mode"] for case in ERROR_FAULTS])
@pytest.mark.parametrize("operation", ["converse", "converse_stream"])
def test_error_modes(
    bedrock: Any, emulator_server: RunningEmulator, case: dict[str, Any], operation: str
) -> None:
    emulator_server.state.set_fault(MODEL, case["mode"], times=1)
    error_class = getattr(bedrock.exceptions, case["code"])
    with pytest.raises(error_class) as caught:
        getattr(bedrock, operation)(modelId=MODEL, messages=USER)
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == case["status"]
    assert caught.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"].startswith(
        case["code"] + ":"
    )
    if case["code"] == "ModelErrorException":
        assert caught.value.response["resourceName"] == MODEL
    getattr(bedrock, operation)(modelId=MODEL, messages=USER)  # times=1: the next call succeeds


def test_times_and_wildcard(bedrock: Any, emulator_server: RunningEmulator) -> None:
    emulator_server.state.set_fault("*", "throttle", times=2)
    for _ in range(2):
        with pytest.raises(bedrock.exceptions.ThrottlingException):
            bedrock.converse(modelId="amazon.nova-lite-v1:0", messages=USER)
    bedrock.converse(modelId="amazon.nova-lite-v1:0", messages=USER)
    counts = emulator_server.state.counts()
    assert counts["amazon.nova-lite-v1:0"]["converse"] == 3


def test_fault_on_base_id_applies_to_profile(
    bedrock: Any, emulator_server: RunningEmulator
) -> None:
    emulator_server.state.set_fault(MODEL, "unavailable")
    with pytest.raises(bedrock.exceptions.ServiceUnavailableException):
        bedrock.converse(modelId="us." + MODEL, messages=USER)


def test_stream_throttle(bedrock: Any, emulator_server: RunningEmulator) -> None:
    emulator_server.state.set_fault(MODEL, "stream_throttle")
    response = bedrock.converse_stream(modelId=MODEL, messages=USER)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    with pytest.raises(EventStreamError) as caught:
        next(iter(response["stream"]))
    assert caught.value.response["Error"]["Code"] == "throttlingException"


def test_break_stream(bedrock: Any, emulator_server: RunningEmulator) -> None:
    emulator_server.state.set_fault(MODEL, "break_stream", after_chunks=3)
    events: list[dict[str, Any]] = []
    with pytest.raises(EventStreamError) as caught:
        _collect(bedrock.converse_stream(modelId=MODEL, messages=USER)["stream"], events)
    assert caught.value.response["Error"]["Code"] == "modelStreamErrorException"
    assert _deltas(events) == 3


@pytest.mark.parametrize("mode", ["drop_stream", "truncate_frame"])
def test_stream_cut_off(bedrock: Any, emulator_server: RunningEmulator, mode: str) -> None:
    emulator_server.state.set_fault(MODEL, mode, after_chunks=2)
    events: list[dict[str, Any]] = []
    with pytest.raises(ProtocolError):
        _collect(bedrock.converse_stream(modelId=MODEL, messages=USER)["stream"], events)
    assert _deltas(events) == 2
    assert not any("messageStop" in event for event in events)


def test_stream_fault_leaves_converse_alone(bedrock: Any, emulator_server: RunningEmulator) -> None:
    emulator_server.state.set_fault(MODEL, "break_stream", times=1)
    bedrock.converse(modelId=MODEL, messages=USER)
    assert emulator_server.state.faults()[MODEL]["remaining"] == 1


def test_hang(make_client: Callable[..., Any], emulator_server: RunningEmulator) -> None:
    emulator_server.state.set_fault(MODEL, "hang")
    client = make_client(read_timeout=0.2, connect_timeout=1)
    with pytest.raises(ReadTimeoutError):
        client.converse(modelId=MODEL, messages=USER)


def test_slow(bedrock: Any, emulator_server: RunningEmulator) -> None:
    emulator_server.state.set_fault(MODEL, "slow", delay_ms=150, chunk_delay_ms=20)
    started = time.monotonic()
    response = bedrock.converse_stream(modelId=MODEL, messages=USER)
    first = time.monotonic()
    events = list(response["stream"])
    done = time.monotonic()
    assert first - started >= 0.15
    assert done - first >= 0.02 * (len(events) - 2)
    assert events[-1]["metadata"]["metrics"]["latencyMs"] >= 150


def test_behaviour_latency_and_chunks(bedrock: Any, emulator_server: RunningEmulator) -> None:
    emulator_server.state.set_behaviour(MODEL, reply="abcdef", chunks=3, latency_ms=50)
    events = list(bedrock.converse_stream(modelId=MODEL, messages=USER)["stream"])
    texts = [e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e]
    assert texts == ["ab", "cd", "ef"]
    assert events[-1]["metadata"]["metrics"]["latencyMs"] >= 50
