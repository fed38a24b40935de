"""E2E: ``reasoning.effort`` on a Claude model with extended thinking gives a ``reasoning``
item (its text as a summary), plain and streamed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from gateway.emulator.runner import RunningEmulator
from tests.support.responses_wire import event_types, post_stream
from tests.support.servers import GatewayServer, running_gateway

POLICY = Path(__file__).parent / "policies" / "responses.yaml"
KEY = "sk-responses-reasoning"


@pytest.fixture(scope="module")
def thinker(emulator: RunningEmulator) -> Iterator[GatewayServer]:
    with running_gateway(policies=POLICY, api_keys=KEY) as server:
        yield server


@pytest.fixture
def sdk(thinker: GatewayServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{thinker.url}/v1", api_key=KEY, max_retries=0)


def test_reasoning_item_before_the_message(sdk: openai.OpenAI) -> None:
    response = sdk.responses.create(
        model="thinker", input="think first", reasoning={"effort": "low"}, store=False
    )
    assert [item.type for item in response.output] == ["reasoning", "message"]
    reasoning = response.output[0]
    assert reasoning.type == "reasoning"
    assert reasoning.summary[0].text == "Thinking about: think first"
    assert "You said: think first" in response.output_text
    assert response.reasoning is not None and response.reasoning.effort == "low"


def test_no_reasoning_item_without_effort(sdk: openai.OpenAI) -> None:
    response = sdk.responses.create(model="thinker", input="just answer", store=False)
    assert [item.type for item in response.output] == ["message"]


def test_streamed_reasoning_summary_events(thinker: GatewayServer) -> None:
    _http, events = post_stream(
        thinker.url,
        KEY,
        {"model": "thinker", "input": "stream thoughts", "reasoning": {"effort": "low"}},
    )
    types = event_types(events)
    assert types[2:4] == ["response.output_item.added", "response.reasoning_summary_part.added"]
    summary = "".join(e.delta for e in events if e.type == "response.reasoning_summary_text.delta")
    assert summary == "Thinking about: stream thoughts"
    final = events[-1]
    assert final.type == "response.completed"
    assert [item.type for item in final.response.output] == ["reasoning", "message"]
    assert "You said: stream thoughts" in final.response.output_text
