"""E2E (shadow): requests copied to shadow models, what the report says, and what never happens."""

from __future__ import annotations

import math
import random
from typing import Any

import httpx2 as httpx
import orjson
import pytest

from gateway.capabilities import split_profile
from gateway.emulator.runner import RunningEmulator
from gateway.routing.engine import actual_cost
from gateway.shadow.runner import ShadowRunner
from tests.e2e.shadow.conftest import (
    ADMIN_KEY,
    KIDS_KEY,
    PRIVATE_KEY,
    SEED,
    calls_of,
    chat,
    pair,
    settled_report,
)
from tests.support.servers import GatewayServer

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
NOVA = "amazon.nova-lite-v1:0"
LLAMA70 = "meta.llama3-1-70b-instruct-v1:0"
MISTRAL_L = "mistral.mistral-large-2402-v1:0"
LLAMA8 = "meta.llama3-8b-instruct-v1:0"
MISTRAL7 = "mistral.mistral-7b-instruct-v0:2"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
SLOW_MS = 300


def tool_request(text: str = "Use get_weather for Oslo") -> dict[str, Any]:
    messages = [{"role": "user", "content": text}]
    return {"model": "shadowed", "messages": messages, "tools": [WEATHER]}


def converse_count(emulator: RunningEmulator, model_id: str, op: str = "converse") -> int:
    """Calls of the model by base id or through any of its inference profiles."""
    return sum(
        ops.get(op, 0)
        for called, ops in emulator.state.counts().items()
        if split_profile(called)[1] == model_id
    )


def test_full_share_copies_each_request_and_report_matches_the_emulator(
    runner: ShadowRunner, http: httpx.Client, emulator: RunningEmulator, gateway: GatewayServer
) -> None:
    emulator.state.reset_calls()
    emulator.state.set_fault(LLAMA70, "slow", delay_ms=SLOW_MS)
    emulator.state.set_fault(MISTRAL_L, "throttle")
    emulator.state.set_behaviour(NOVA, tool_arguments={"city": "Paris"})
    n = 4
    primaries = []
    for i in range(n):
        response = chat(http, tool_request(f"Use get_weather for city {i}"))
        assert response.status_code == 200, response.text
        primaries.append(response.json())
    data = settled_report(http, lambda d: calls_of(d, "shadowed") == 3 * n)
    for model_id in (HAIKU, NOVA, LLAMA70, MISTRAL_L):
        assert converse_count(emulator, model_id) == n, model_id
    route = data["routes"]["shadowed"]
    assert route["requests"] == n
    policy = gateway.state.policy
    usage_in = sum(p["usage"]["prompt_tokens"] for p in primaries)
    usage_out = sum(p["usage"]["completion_tokens"] for p in primaries)

    # llama3-1-70b: same tool call as the primary, slower by the emulator's delay.
    slow = pair(data, "shadowed", "claude-3-haiku", "llama3-1-70b")
    assert (slow["calls"], slow["answered"], slow["errors"]) == (n, n, {})
    assert slow["agreement"]["tool_calls"] == {"rate": 1.0, "n": n}
    assert slow["agreement"]["exact"] == {"rate": 1.0, "n": n}
    assert slow["latency_ms"]["p50"] >= SLOW_MS
    assert slow["tokens"] == {"input": usage_in, "output": usage_out}
    expected = actual_cost(policy.models["llama3-1-70b"], usage_in, usage_out)
    assert slow["cost_usd"]["total"] == pytest.approx(expected, rel=1e-6)

    # nova-lite: answers the tool call with other arguments -> disagreement, its own tokens.
    nova = pair(data, "shadowed", "claude-3-haiku", "nova-lite")
    assert (nova["calls"], nova["answered"]) == (n, n)
    assert nova["agreement"]["tool_calls"] == {"rate": 0.0, "n": n}
    assert nova["agreement"]["exact"] == {"rate": 0.0, "n": n}
    out_each = math.ceil((len("Calling get_weather.") + len(orjson.dumps({"city": "Paris"}))) / 4)
    assert nova["tokens"] == {"input": usage_in, "output": out_each * n}
    assert nova["latency_ms"]["p50"] < SLOW_MS
    expected = actual_cost(policy.models["nova-lite"], usage_in, out_each * n)
    assert nova["cost_usd"]["total"] == pytest.approx(expected, rel=1e-6)

    # mistral-large: throttled every time -> errors by kind, no cost, no agreement.
    throttled = pair(data, "shadowed", "claude-3-haiku", "mistral-large")
    assert (throttled["calls"], throttled["answered"]) == (n, 0)
    assert throttled["errors"] == {"throttled": n}
    assert throttled["cost_usd"]["total"] == 0
    assert throttled["latency_ms"] is None
    assert throttled["agreement"]["exact"] is None

    # The primary over the same requests, and the projections at the observed traffic.
    rpd = route["requests_per_day"]
    assert rpd == pytest.approx(n / 3600 * 86400, rel=1e-3)
    assert slow["projected_monthly_usd"] == pytest.approx(
        rpd * slow["cost_usd"]["mean"] * 30, rel=1e-4
    )
    haiku_cost = actual_cost(policy.models["claude-3-haiku"], usage_in, usage_out)
    assert slow["primary"]["cost_usd"]["total"] == pytest.approx(haiku_cost, rel=1e-6)
    assert slow["primary"]["latency_ms"]["n"] == n


def _strip(body: bytes) -> Any:
    data = orjson.loads(body)
    data.pop("id"), data.pop("created")
    return data


def _stream_events(body: bytes) -> list[Any]:
    events: list[Any] = []
    for line in body.split(b"\n"):
        if not line.startswith(b"data: "):
            continue
        payload = line[len(b"data: ") :]
        if payload == b"[DONE]":
            events.append("[DONE]")
            continue
        chunk = orjson.loads(payload)
        chunk.pop("id"), chunk.pop("created")
        events.append(chunk)
    return events


def _headers(response: httpx.Response) -> list[tuple[str, str]]:
    skip = {"x-request-id", "date", "x-gateway-upstream-request-id"}  # ids differ per call
    return sorted((k.lower(), v) for k, v in response.headers.items() if k.lower() not in skip)


@pytest.mark.parametrize("stream", [False, True])
def test_client_bytes_and_headers_are_the_same_with_shadowing_on_and_off(
    stream: bool, runner: ShadowRunner, http: httpx.Client, gateway: GatewayServer
) -> None:
    body = {**tool_request("Use get_weather for Rome"), "stream": stream}
    if stream:
        body["stream_options"] = {"include_usage": True}
    gateway.state.shadow = None
    off = chat(http, body)
    gateway.state.shadow = runner
    on = chat(http, body)
    assert off.status_code == on.status_code == 200
    assert _headers(off) == _headers(on)
    if stream:
        assert _stream_events(off.content) == _stream_events(on.content)
    else:
        assert _strip(off.content) == _strip(on.content)
    data = settled_report(http, lambda d: calls_of(d, "shadowed") == 3)
    assert data["routes"]["shadowed"]["requests"] == 1


def test_streamed_requests_are_shadowed_as_streams_with_ttft(
    runner: ShadowRunner, http: httpx.Client, emulator: RunningEmulator
) -> None:
    emulator.state.reset_calls()
    body = {**tool_request(), "stream": True}
    assert chat(http, body).status_code == 200
    data = settled_report(http, lambda d: calls_of(d, "shadowed") == 3)
    assert converse_count(emulator, NOVA, "converse-stream") == 1
    assert converse_count(emulator, NOVA) == 0
    nova = pair(data, "shadowed", "claude-3-haiku", "nova-lite")
    assert nova["ttft_ms"]["n"] == 1
    assert nova["ttft_ms"]["p50"] <= nova["latency_ms"]["p50"]
    assert nova["primary"]["ttft_ms"]["n"] == 1


@pytest.mark.parametrize(
    ("key", "headers"),
    [
        (None, {"x-data-class": "confidential"}),  # a rule raises the tier
        (None, {"x-gateway-safety-tier": "3"}),  # the header raises it
        (KIDS_KEY, {}),  # the tenant's minimum
    ],
    ids=["rule", "header", "tenant"],
)
def test_confidential_request_never_reaches_a_lower_tier_shadow(
    key: str | None,
    headers: dict[str, str],
    runner: ShadowRunner,
    http: httpx.Client,
    emulator: RunningEmulator,
) -> None:
    emulator.state.reset_calls()
    n = 3
    for i in range(n):
        extra = {"key": key} if key else {}
        body = tool_request(f"secret {i}: use get_weather")
        response = chat(http, body, headers=headers, **extra)
        assert response.status_code == 200, response.text
    data = settled_report(http, lambda d: calls_of(d, "shadowed") == n)
    assert converse_count(emulator, NOVA) == n  # tier 3: allowed
    called = {call["model_id"] for call in emulator.state.calls()}
    assert LLAMA70 not in called and MISTRAL_L not in called
    dropped = data["routes"]["shadowed"]["dropped"]
    for name in ("llama3-1-70b", "mistral-large"):
        assert dropped[name]["ineligible"] == n
        assert dropped[name]["ineligible_by"] == {"safety_tier": n}


def test_features_and_context_window_are_required_of_shadows(
    runner: ShadowRunner, http: httpx.Client, emulator: RunningEmulator
) -> None:
    emulator.state.reset_calls()
    long_text = (
        "word " * 7000
    )  # ~8750 tokens: over the 8000-token window the policy gives llama3-1-70b
    assert chat(http, tool_request("get_weather " + long_text)).status_code == 200
    data = settled_report(http, lambda d: calls_of(d, "shadowed") == 2)
    assert converse_count(emulator, LLAMA70) == 0
    assert data["routes"]["shadowed"]["dropped"]["llama3-1-70b"]["ineligible_by"] == {
        "context_window": 1
    }


def test_opt_out_header_and_tenant_opt_out_send_nothing(
    runner: ShadowRunner, http: httpx.Client, emulator: RunningEmulator
) -> None:
    emulator.state.reset_calls()
    assert chat(http, tool_request(), headers={"x-gateway-shadow": "off"}).status_code == 200
    assert chat(http, tool_request(), key=PRIVATE_KEY).status_code == 200
    data = settled_report(http)
    for model_id in (NOVA, LLAMA70, MISTRAL_L):
        assert converse_count(emulator, model_id) == 0
    dropped = data["routes"]["shadowed"]["dropped"]
    for name in ("nova-lite", "llama3-1-70b", "mistral-large"):
        assert (dropped[name]["opt_out"], dropped[name]["tenant"]) == (1, 1)
    assert data["routes"]["shadowed"]["requests"] == 2
    assert data["routes"]["shadowed"]["primaries"] == {}


def test_max_in_flight_drops_work_instead_of_queueing(
    runner: ShadowRunner, http: httpx.Client, emulator: RunningEmulator
) -> None:
    emulator.state.reset_calls()
    emulator.state.set_fault(LLAMA8, "slow", delay_ms=1500)
    body = {"model": "limited", "messages": [{"role": "user", "content": "hi"}]}
    for _ in range(5):
        assert chat(http, body).status_code == 200
    data = settled_report(http, lambda d: calls_of(d, "limited") == 1)
    assert converse_count(emulator, LLAMA8) == 1
    assert data["routes"]["limited"]["dropped"]["llama3-8b"]["in_flight"] == 4
    assert data["routes"]["limited"]["requests"] == 5


def test_daily_budget_drops_work_once_spent(
    runner: ShadowRunner, http: httpx.Client, emulator: RunningEmulator, gateway: GatewayServer
) -> None:
    emulator.state.reset_calls()
    budget = gateway.state.policy.routes["budgeted"].shadow.budget_usd_per_day
    body = {"model": "budgeted", "messages": [{"role": "user", "content": "hi"}]}
    sent = 12
    for _ in range(sent):
        assert chat(http, body).status_code == 200
        settled_report(http)  # one at a time: each call's spend is known before the next
    data = settled_report(http)
    route = data["routes"]["budgeted"]
    calls = calls_of(data, "budgeted")
    dropped = route["dropped"]["llama3-8b"]["budget"]
    assert calls >= 1 and dropped >= 1 and calls + dropped == sent
    assert converse_count(emulator, LLAMA8) == calls
    assert route["spent_today_usd"] <= budget
    assert route["spent_today_usd"] == pytest.approx(
        pair(data, "budgeted", "mistral-7b", "llama3-8b")["cost_usd"]["total"]
    )


def test_embedding_model_gives_the_cosine_of_the_two_answers(
    runner: ShadowRunner, http: httpx.Client, emulator: RunningEmulator
) -> None:
    from gateway.emulator.embeddings import vector
    from gateway.shadow.agreement import cosine

    body = {"model": "embedded", "messages": [{"role": "user", "content": "compare me"}]}
    response = chat(http, body)
    assert response.status_code == 200
    data = settled_report(http, lambda d: calls_of(d, "embedded") == 1)
    primary_text = response.json()["choices"][0]["message"]["content"]
    shadow_text = f"Hello from {LLAMA8}. You said: compare me"
    titan = "amazon.titan-embed-text-v2:0"
    expected = cosine(
        vector(titan, primary_text, 1024, True), vector(titan, shadow_text, 1024, True)
    )
    got = pair(data, "embedded", "mistral-7b", "llama3-8b")["agreement"]["cosine"]
    assert got["n"] == 1
    assert got["mean"] == pytest.approx(expected, abs=1e-5)


def test_share_samples_with_the_injected_random(
    runner: ShadowRunner, http: httpx.Client, emulator: RunningEmulator
) -> None:
    emulator.state.reset_calls()
    draws = random.Random(SEED)
    expected = sum(draws.random() < 0.25 for _ in range(16))
    body = {"model": "sampled", "messages": [{"role": "user", "content": "hi"}]}
    for _ in range(16):
        assert chat(http, body).status_code == 200
    data = settled_report(http, lambda d: calls_of(d, "sampled") == expected)
    assert 0 < expected < 16
    assert converse_count(emulator, LLAMA8) == expected
    assert data["routes"]["sampled"]["requests"] == 16


def test_identical_answers_agree_exactly(
    runner: ShadowRunner, http: httpx.Client, emulator: RunningEmulator
) -> None:
    emulator.state.set_behaviour("*", reply='{"answer": 42}')
    body = {
        "model": "embedded",
        "messages": [{"role": "user", "content": "json please"}],
        "response_format": {"type": "json_object"},
    }
    assert chat(http, body).status_code == 200
    data = settled_report(http, lambda d: calls_of(d, "embedded") == 1)
    agreement = pair(data, "embedded", "mistral-7b", "llama3-8b")["agreement"]
    assert agreement["exact"] == {"rate": 1.0, "n": 1}
    assert agreement["json_valid"] == {"rate": 1.0, "n": 1}
    assert agreement["length_ratio"] == {"mean": 1.0, "n": 1}
    assert agreement["tool_calls"] is None


def test_metrics_carry_the_shadow_figures(
    runner: ShadowRunner, http: httpx.Client, emulator: RunningEmulator
) -> None:
    emulator.state.set_fault(MISTRAL_L, "throttle")
    assert chat(http, tool_request()).status_code == 200
    settled_report(http, lambda d: calls_of(d, "shadowed") == 3)
    text = http.get("/metrics").text
    ok = 'primary="claude-3-haiku",result="ok",route="shadowed",shadow="nova-lite"'
    assert f"gateway_shadow_calls_total{{{ok}}}" in text
    throttled = 'error="throttled",primary="claude-3-haiku",route="shadowed",shadow="mistral-large"'
    assert f"gateway_shadow_errors_total{{{throttled}}}" in text
    projected = 'gateway_shadow_projected_monthly_usd{model="nova-lite",role="shadow"'
    assert projected in text
    assert "gateway_shadow_duration_seconds_bucket" in text
    assert 'gateway_shadow_agreement_total{check="tool_calls"' in text


def test_the_report_needs_the_admin_key(http: httpx.Client) -> None:
    assert http.get("/v1/gateway/shadow").status_code == 401
    wrong = http.get("/v1/gateway/shadow", headers={"authorization": "Bearer nope"})
    assert wrong.status_code == 401
    ok = http.get("/v1/gateway/shadow", headers={"authorization": f"Bearer {ADMIN_KEY}"})
    assert ok.status_code == 200
