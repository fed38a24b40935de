"""E2E: chat completions through the gateway with the official openai SDK, plain and streamed."""

from __future__ import annotations

import base64
import json

import openai
import pytest
from openai.types.chat import ChatCompletionChunk

from tests.e2e.conftest import KEY
from tests.support.openai_wire import stream_raw, validate_completion
from tests.support.servers import GatewayServer

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
PNG_1PX = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA"
    "60e6kgAAAABJRU5ErkJggg=="
)


def test_plain_completion_is_openai_shaped_with_gateway_headers(client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="haiku", messages=[{"role": "user", "content": "Hi there"}]
    )
    completion = validate_completion(raw.http_response.content)
    assert completion.object == "chat.completion"
    assert completion.model == HAIKU
    choice = completion.choices[0]
    assert choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    assert "You said: Hi there" in (choice.message.content or "")
    assert completion.usage is not None
    usage = completion.usage
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens > 0
    headers = raw.headers
    assert headers["x-gateway-route"] == "haiku"
    assert headers["x-gateway-model"] == HAIKU
    assert headers["x-gateway-attempts"] == "1"
    assert headers["x-gateway-cache"] in {"hit", "miss", "bypass", "off"}
    assert float(headers["x-gateway-cost-usd"]) > 0
    assert headers["x-request-id"]


def test_request_id_is_echoed(client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="haiku",
        messages=[{"role": "user", "content": "id"}],
        extra_headers={"x-request-id": "trace-123"},
    )
    assert raw.headers["x-request-id"] == "trace-123"


async def test_async_client(async_client: openai.AsyncOpenAI) -> None:
    completion = await async_client.chat.completions.create(
        model="haiku",
        messages=[
            {"role": "system", "content": "be brief"},
            {"role": "developer", "content": "really brief"},
            {"role": "user", "content": "async hello"},
        ],
    )
    assert "async hello" in (completion.choices[0].message.content or "")


@pytest.mark.parametrize("model", ["claude-3-haiku", HAIKU, "default"])
def test_model_by_catalogue_name_bedrock_id_or_default(client: openai.OpenAI, model: str) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": "which"}]
    )
    validate_completion(raw.http_response.content)
    assert raw.headers["x-gateway-model"] == HAIKU


def test_stream_with_usage(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="haiku",
        messages=[{"role": "user", "content": "stream me a reply please"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "You said: stream me a reply please" in text
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.role) == 1


def test_stream_wire_format(gateway: GatewayServer) -> None:
    response, events, done = stream_raw(
        gateway.url, KEY, {"model": "haiku", "messages": [{"role": "user", "content": "wire"}]}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["x-gateway-model"] == HAIKU
    assert done
    assert len(events) >= 4
    assert all("usage" not in e or e["usage"] is None for e in events)


def test_stream_helper_accumulates_tool_calls(client: openai.OpenAI) -> None:
    with client.chat.completions.stream(
        model="tools",
        messages=[{"role": "user", "content": "What is the get_weather in Paris?"}],
        tools=[WEATHER_TOOL],
    ) as stream:
        for event in stream:
            if event.type == "chunk":
                ChatCompletionChunk.model_validate(event.chunk.model_dump())
        final = stream.get_final_completion()
    message = final.choices[0].message
    assert final.choices[0].finish_reason == "tool_calls"
    assert message.tool_calls and len(message.tool_calls) == 1
    call = message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "city-value"}
    assert call.id.startswith("tooluse_")


def test_tool_round_trip(client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="tools",
        messages=[{"role": "user", "content": "weather in Paris?"}],
        tools=[WEATHER_TOOL],
        tool_choice="required",
    )
    first = validate_completion(raw.http_response.content)
    assert first.choices[0].finish_reason == "tool_calls"
    call = first.choices[0].message.tool_calls[0]  # type: ignore[index]
    second = client.chat.completions.create(
        model="tools",
        messages=[
            {"role": "user", "content": "weather in Paris?"},
            first.choices[0].message.model_dump(exclude_none=True),  # type: ignore[list-item]
            {"role": "tool", "tool_call_id": call.id, "content": '{"temp_c": 21}'},
        ],
        tools=[WEATHER_TOOL],
    )
    content = second.choices[0].message.content or ""
    assert "returned" in content and "21" in content


def test_named_tool_choice(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="tools",
        messages=[{"role": "user", "content": "anything"}],
        tools=[WEATHER_TOOL],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
    )
    calls = completion.choices[0].message.tool_calls
    assert calls and calls[0].function.name == "get_weather"


def test_max_tokens_gives_length(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="haiku", messages=[{"role": "user", "content": "long " * 20}], max_tokens=3
    )
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage is not None and completion.usage.completion_tokens <= 3


def test_stop_sequence(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="haiku", messages=[{"role": "user", "content": "hello"}], stop=["You said"]
    )
    assert completion.choices[0].finish_reason == "stop"
    assert "You said" not in (completion.choices[0].message.content or "")


def test_temperature_above_one_is_clamped(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="haiku", messages=[{"role": "user", "content": "warm"}], temperature=1.7
    )
    assert completion.choices[0].message.content


def test_data_url_image(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="haiku",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what is this"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_1PX}"}},
                ],
            }
        ],
    )
    assert "what is this" in (completion.choices[0].message.content or "")
    assert base64.b64decode(PNG_1PX)


def test_json_object_mode(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="haiku",
        messages=[{"role": "user", "content": "give json"}],
        response_format={"type": "json_object"},
    )
    answer = json.loads(completion.choices[0].message.content or "")
    assert isinstance(answer, dict) and "give json" in answer["answer"]


@pytest.mark.parametrize("model", ["haiku", "chain"])
def test_json_schema_mode_answers_an_object_of_the_schema(
    client: openai.OpenAI, model: str
) -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["city", "days"],
    }
    completion = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "forecast please"}],
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "forecast", "schema": schema},
        },
    )
    answer = json.loads(completion.choices[0].message.content or "")
    assert set(answer) == {"city", "days"} and isinstance(answer["days"], int)


@pytest.mark.parametrize(
    ("prompt", "called"),
    [
        ("What's the weather like in Paris today?", True),
        ("Which city is warmer today, Oslo or Rome?", True),
        ("hello there", False),
    ],
)
def test_auto_tool_choice_calls_the_tool_the_prompt_needs(
    client: openai.OpenAI, prompt: str, called: bool
) -> None:
    completion = client.chat.completions.create(
        model="tools",
        messages=[{"role": "user", "content": prompt}],
        tools=[WEATHER_TOOL],
        tool_choice="auto",
    )
    choice = completion.choices[0]
    assert (choice.finish_reason == "tool_calls") is called
    assert bool(choice.message.tool_calls) is called


def test_models_list(client: openai.OpenAI) -> None:
    names = {m.id for m in client.models.list()}
    assert {"haiku", "chain", "tools", "embed", "claude-3-haiku"} <= names
