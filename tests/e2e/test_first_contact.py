"""E2E: the shipped policy on first contact with Bedrock, as the strict emulator plays it.

The strict emulator refuses what real Bedrock refuses, per model and region (base ids of
profile-only models, system prompts, tools, tools while streaming, end of life, the 512-token
output defaults). Every shipped chat route and every active catalogue chat model is tried
plain, streamed, with tools, streamed with tools, with a system message and without
``max_tokens``; each answer and chunk is validated with the openai SDK's own types.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import openai
import pytest

from gateway.capabilities import capabilities_for
from gateway.emulator.runner import RunningEmulator, start_emulator_in_thread
from gateway.routing.loader import load_policy
from tests.support.openai_wire import stream_raw, validate_completion
from tests.support.servers import DEFAULT_POLICIES, GatewayServer, aws_env, running_gateway

KEY = "sk-first-contact"
REGION = "us-east-1"
POLICY = load_policy(DEFAULT_POLICIES, region=REGION)
CHAT_ROUTES = sorted(
    name
    for name, route in POLICY.routes.items()
    if route.pool and all(m.kind == "chat" for m in route.pool)
)
ACTIVE_CHAT_MODELS = sorted(
    name for name, m in POLICY.models.items() if m.kind == "chat" and not m.unusable
)
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
ASK_WEATHER = [{"role": "user", "content": "Use get_weather: what is the weather in Paris?"}]
LONG_TOKENS = 900
COMBOS = ["plain", "stream", "tools", "stream_tools", "system", "no_max_tokens"]


@pytest.fixture(scope="module")
def strict(emulator: RunningEmulator) -> Iterator[RunningEmulator]:
    running = start_emulator_in_thread("127.0.0.1", 0, strict=True)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def shipped(strict: RunningEmulator) -> Iterator[GatewayServer]:
    with (
        aws_env({"AWS_ENDPOINT_URL_BEDROCK_RUNTIME": strict.url, "AWS_REGION": REGION}),
        running_gateway(policies=DEFAULT_POLICIES, api_keys=KEY) as server,
    ):
        yield server


@pytest.fixture(autouse=True)
def _fresh(shipped: GatewayServer, strict: RunningEmulator) -> None:
    shipped.state.stats.bench.lift()
    strict.state.clear_faults()


def _body(model: str, combo: str) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": "hello"}]}
    if combo in ("tools", "stream_tools"):
        body |= {"messages": ASK_WEATHER, "tools": [WEATHER]}
    if combo == "system":
        body["messages"] = [{"role": "system", "content": "Answer briefly."}, *body["messages"]]
    if combo == "no_max_tokens":
        body["messages"] = [{"role": "user", "content": f"[emulator:long={LONG_TOKENS}] go"}]
    return body


def _call(server: GatewayServer, body: dict[str, Any], stream: bool) -> dict[str, Any]:
    """The answer as one dict: status, headers, the final message and finish reason."""
    if stream:
        response, events, done = stream_raw(server.url, KEY, body)
        assert response.status_code == 200, response.text
        assert done
        assert not any("error" in event for event in events), events
        text = "".join(
            c["delta"].get("content") or "" for e in events for c in e["choices"] if c["delta"]
        )
        tools = [
            t for e in events for c in e["choices"] for t in c["delta"].get("tool_calls") or []
        ]
        finish = [c["finish_reason"] for e in events for c in e["choices"] if c["finish_reason"]]
        return {"headers": response.headers, "text": text, "tools": tools, "finish": finish[-1]}
    response = httpx.post(
        f"{server.url}/v1/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    completion = validate_completion(response.content)
    choice = completion.choices[0]
    return {
        "headers": response.headers,
        "text": choice.message.content or "",
        "tools": choice.message.tool_calls or [],
        "finish": choice.finish_reason,
        "usage": completion.usage,
    }


def _check(answer: dict[str, Any], combo: str) -> None:
    if combo in ("tools", "stream_tools"):
        assert answer["tools"], answer
        assert answer["finish"] == "tool_calls"
    else:
        assert answer["text"]
    if combo == "no_max_tokens":
        # maxTokens is always sent: no answer stops at a model's 512-token default.
        assert answer["finish"] == "stop", answer["finish"]
        assert answer["usage"].completion_tokens >= LONG_TOKENS


def test_the_shipped_catalogue_is_all_in_the_capability_table() -> None:
    unknown = [m.bedrock_id for m in POLICY.models.values() if not capabilities_for(m.bedrock_id)]
    assert unknown == []
    # The only warnings: the seed's legacy and end-of-life models, kept and marked.
    lifecycle = ("is legacy", "reached end of life")
    assert [w for w in POLICY.warnings if not any(t in w.message for t in lifecycle)] == []


@pytest.mark.parametrize("combo", COMBOS)
@pytest.mark.parametrize("route", CHAT_ROUTES)
def test_every_shipped_route_works_in_every_combination(
    shipped: GatewayServer, route: str, combo: str
) -> None:
    answer = _call(shipped, _body(route, combo), stream=combo in ("stream", "stream_tools"))
    assert answer["headers"]["x-gateway-route"] == route
    assert answer["headers"]["x-gateway-attempts"] == "1"  # no refusal on the way
    _check(answer, combo)


@pytest.mark.parametrize("combo", COMBOS)
@pytest.mark.parametrize("name", ACTIVE_CHAT_MODELS)
def test_every_active_catalogue_model_works_or_is_refused_by_name(
    shipped: GatewayServer, name: str, combo: str
) -> None:
    """Called by catalogue name: an answer, or (tools on a model without tool use) a 400
    naming the feature, before Bedrock is called."""
    model = POLICY.models[name]
    caps = capabilities_for(model.bedrock_id)
    assert caps is not None
    body = _body(name, combo)
    if combo in ("tools", "stream_tools") and not caps.tools:
        response = httpx.post(
            f"{shipped.url}/v1/chat/completions",
            json=body | {"stream": combo == "stream_tools"},
            headers={"Authorization": f"Bearer {KEY}"},
            timeout=30,
        )
        assert response.status_code == 400, response.text
        assert "tools" in response.json()["error"]["message"]
        return
    if combo == "no_max_tokens" and caps.max_output_tokens < LONG_TOKENS:
        pytest.skip(f"{name} answers at most {caps.max_output_tokens} tokens")
    answer = _call(shipped, body, stream=combo in ("stream", "stream_tools"))
    assert answer["headers"]["x-gateway-attempts"] == "1"
    invoked = answer["headers"]["x-gateway-model"]
    assert invoked.endswith(caps.base_id)
    if REGION not in caps.on_demand_regions:
        assert invoked != caps.base_id  # called through its inference profile
    _check(answer, combo)


def test_the_openai_sdk_sees_a_streamed_tool_call_on_a_model_without_streaming_tools(
    shipped: GatewayServer,
) -> None:
    """Tools while streaming on a model without it: one Converse call replayed as SSE."""
    names = [
        n
        for n in ACTIVE_CHAT_MODELS
        if (caps := capabilities_for(POLICY.models[n].bedrock_id))
        and caps.tools
        and not caps.streaming_tools
    ]
    if not names:
        pytest.skip("the catalogue has no model with tools but no streaming tools")
    sdk = openai.OpenAI(base_url=f"{shipped.url}/v1", api_key=KEY, max_retries=0)
    stream = sdk.chat.completions.create(
        model=names[0],
        messages=ASK_WEATHER,
        tools=[WEATHER],
        stream=True,  # type: ignore[arg-type, list-item]
    )
    calls = [t for chunk in stream for c in chunk.choices for t in c.delta.tool_calls or []]
    assert calls and calls[0].function and calls[0].function.name == "get_weather"
