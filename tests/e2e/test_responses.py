"""E2E: ``POST /v1/responses`` through the gateway with the openai SDK, plain and streamed."""

from __future__ import annotations

import json
import time
import uuid

import openai
import pytest
from openai.types.responses import Response
from pydantic import BaseModel

from gateway.emulator.runner import RunningEmulator
from tests.e2e.conftest import KEY
from tests.support.responses_wire import event_types, post_stream, validate_response
from tests.support.servers import GatewayServer

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
    "strict": True,
}


def test_create_is_a_valid_response_with_gateway_headers(client: openai.OpenAI) -> None:
    raw = client.responses.with_raw_response.create(
        model="haiku", input="Hi there", instructions="be brief", store=False
    )
    response = validate_response(raw.http_response.content)
    assert response.object == "response"
    assert response.status == "completed"
    assert response.id.startswith("resp_")
    assert response.model == HAIKU
    assert response.instructions == "be brief"
    assert "You said: Hi there" in response.output_text
    [item] = response.output
    assert item.type == "message" and item.role == "assistant" and item.status == "completed"
    usage = response.usage
    assert usage is not None
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens > 0
    assert raw.headers["x-gateway-route"] == "haiku"
    assert raw.headers["x-gateway-model"] == HAIKU
    assert float(raw.headers["x-gateway-cost-usd"]) > 0


def test_input_items_with_a_system_message_and_parts(client: openai.OpenAI) -> None:
    response = client.responses.create(
        model="haiku",
        input=[
            {"role": "developer", "content": "answer in English"},
            {"role": "user", "content": [{"type": "input_text", "text": "two parts"}]},
        ],
        max_output_tokens=200,
        temperature=0.2,
        top_p=0.9,
        metadata={"team": "a"},
        store=False,
    )
    assert "two parts" in response.output_text
    assert response.max_output_tokens == 200
    assert response.metadata == {"team": "a"}


def test_max_output_tokens_cut_is_incomplete(client: openai.OpenAI) -> None:
    response = client.responses.create(
        model="haiku", input="a fairly long question to cut", max_output_tokens=2, store=False
    )
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"


def test_stream_event_sequence(gateway: GatewayServer) -> None:
    http, events = post_stream(gateway.url, KEY, {"model": "haiku", "input": "Stream me"})
    types = event_types(events)
    assert types[:5] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
    ]
    assert types[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert "You said: Stream me" in text
    done = events[-1]
    assert done.type == "response.completed"
    final = done.response
    assert final.output_text == text
    assert final.usage is not None and final.usage.output_tokens > 0
    assert http.headers["x-gateway-model"] == HAIKU


def test_sdk_stream_helper_accumulates(client: openai.OpenAI) -> None:
    with client.responses.stream(model="haiku", input="helper stream") as stream:
        for _event in stream:
            pass
        final = stream.get_final_response()
    assert isinstance(final, Response)
    assert "You said: helper stream" in final.output_text


def test_stream_function_call_events(gateway: GatewayServer) -> None:
    _http, events = post_stream(
        gateway.url,
        KEY,
        {"model": "tools", "input": "call get_weather please", "tools": [WEATHER]},
    )
    types = event_types(events)
    assert "response.function_call_arguments.delta" in types
    assert "response.function_call_arguments.done" in types
    done = [e for e in events if e.type == "response.function_call_arguments.done"]
    assert json.loads(done[0].arguments) == {"city": "city-value"}
    final = events[-1]
    assert final.type == "response.completed"
    calls = [item for item in final.response.output if item.type == "function_call"]
    assert calls[0].name == "get_weather" and calls[0].call_id
    added = [e for e in events if e.type == "response.output_item.added"]
    assert [e.output_index for e in added] == list(range(len(final.response.output)))


class Weather(BaseModel):
    city: str
    degrees: int


def test_parse_with_a_pydantic_model(client: openai.OpenAI) -> None:
    parsed = client.responses.parse(
        model="haiku", input="weather in Paris as JSON", text_format=Weather, store=False
    )
    assert parsed.output_parsed is not None
    assert isinstance(parsed.output_parsed, Weather)
    assert parsed.text is not None and parsed.text.format is not None
    assert parsed.text.format.type == "json_schema"


def test_json_object_format(client: openai.OpenAI) -> None:
    response = client.responses.create(
        model="haiku",
        input="reply in JSON",
        text={"format": {"type": "json_object"}},
        store=False,
    )
    assert response.text is not None and response.text.format is not None
    assert response.text.format.type == "json_object"
    assert response.output_text  # the emulator's text (JSON mode is a system instruction)


def test_function_round_trip_with_full_history(client: openai.OpenAI) -> None:
    first = client.responses.create(
        model="tools", input="call get_weather for me", tools=[WEATHER], store=False
    )
    calls = [item for item in first.output if item.type == "function_call"]
    assert len(calls) == 1
    call = calls[0]
    history = [
        {"role": "user", "content": "call get_weather for me"},
        *[item.model_dump(exclude_none=True) for item in first.output],
        {"type": "function_call_output", "call_id": call.call_id, "output": "sunny, 21C"},
    ]
    second = client.responses.create(model="tools", input=history, tools=[WEATHER], store=False)
    assert f"Tool {call.call_id} returned: sunny, 21C" in second.output_text


@pytest.mark.parametrize("stream", [False, True])
def test_function_round_trip_with_previous_response_id(client: openai.OpenAI, stream: bool) -> None:
    first = client.responses.create(model="tools", input="use get_weather", tools=[WEATHER])
    call = next(item for item in first.output if item.type == "function_call")
    follow = {
        "model": "tools",
        "previous_response_id": first.id,
        "input": [{"type": "function_call_output", "call_id": call.call_id, "output": "rain"}],
        "tools": [WEATHER],
    }
    if stream:
        with client.responses.stream(**follow) as events:  # type: ignore[arg-type]
            second = events.get_final_response()
    else:
        second = client.responses.create(**follow)  # type: ignore[arg-type]
    assert f"Tool {call.call_id} returned: rain" in second.output_text
    assert second.previous_response_id == first.id


def test_a_response_counts_as_a_model_call(client: openai.OpenAI, gateway: GatewayServer) -> None:
    labels = {"route": "tools", "model": "claude-3-haiku", "status": "200"}

    def count() -> float:
        return gateway.registry.get_sample_value("gateway_requests_total", labels) or 0.0

    before = count()
    client.responses.create(model="tools", input="count me", store=False)
    deadline = time.monotonic() + 2.0  # counted once the answer is sent: the client may be first
    while count() < before + 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert count() == before + 1


def test_cache_serves_a_repeat_and_a_streamed_repeat(
    client: openai.OpenAI, gateway: GatewayServer
) -> None:
    text = f"cache me {uuid.uuid4()}"
    first = client.responses.with_raw_response.create(
        model="haiku", input=text, temperature=0, store=False
    )
    second = client.responses.with_raw_response.create(
        model="haiku", input=text, temperature=0, store=False
    )
    assert first.headers["x-gateway-cache"] == "miss"
    assert second.headers["x-gateway-cache"] == "hit"
    one, two = validate_response(first.content), validate_response(second.content)
    assert one.output_text == two.output_text and one.id != two.id
    http, events = post_stream(
        gateway.url, KEY, {"model": "haiku", "input": text, "temperature": 0}
    )
    assert http.headers["x-gateway-cache"] == "hit"
    assert events[-1].type == "response.completed"
    assert events[-1].response.output_text == one.output_text
    assert [e.sequence_number for e in events] == list(range(len(events)))


def test_stream_broken_after_first_byte_ends_with_response_failed(
    gateway: GatewayServer, emulator: RunningEmulator
) -> None:
    emulator.state.set_fault(HAIKU, "break_stream", after_chunks=2)
    _http, events = post_stream(gateway.url, KEY, {"model": "haiku", "input": "break me"})
    assert events[0].type == "response.created"
    last = events[-1]
    assert last.type == "response.failed"
    assert last.response.status == "failed"
    assert last.response.error is not None and last.response.error.code == "server_error"


def test_stream_refused_before_first_byte_is_a_plain_error(
    client: openai.OpenAI, emulator: RunningEmulator
) -> None:
    emulator.state.set_fault(HAIKU, "throttle")
    with pytest.raises(openai.RateLimitError):
        client.responses.create(model="haiku", input="throttled", stream=True)
