"""E2E: the response cache as clients see it — hit/miss/bypass, replay both ways, tenants."""

from __future__ import annotations

import uuid
from typing import Any

import openai

from gateway.emulator.runner import RunningEmulator
from tests.e2e.conftest import KEY
from tests.support.openai_wire import stream_raw, validate_completion
from tests.support.servers import GatewayServer

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"


def _body(text: str, **extra: Any) -> dict[str, Any]:
    return {
        "model": "haiku",
        "messages": [{"role": "user", "content": text}],
        "temperature": 0,
    } | extra


def _calls(emulator: RunningEmulator) -> int:
    return sum(emulator.state.counts().get(HAIKU, {}).values())


def _plain(client: openai.OpenAI, text: str, **extra: Any) -> Any:
    return client.chat.completions.with_raw_response.create(**_body(text, **extra))


def test_plain_miss_then_hit(client: openai.OpenAI, emulator: RunningEmulator) -> None:
    text = f"cache {uuid.uuid4()}"
    first = _plain(client, text)
    before = _calls(emulator)
    second = _plain(client, text)
    assert first.headers["x-gateway-cache"] == "miss"
    assert second.headers["x-gateway-cache"] == "hit"
    assert _calls(emulator) == before  # answered without Bedrock
    assert second.headers["x-gateway-attempts"] == "0"
    assert float(second.headers["x-gateway-cost-usd"]) == 0
    one, two = (
        validate_completion(first.http_response.content),
        validate_completion(second.http_response.content),
    )
    assert one.choices[0].message.content == two.choices[0].message.content
    assert one.id != two.id


def _deltas(events: list[dict[str, Any]]) -> list[Any]:
    return [e["choices"][0]["delta"] for e in events if e.get("choices")]


def test_streamed_miss_then_streamed_hit_replays_chunking(
    gateway: GatewayServer, emulator: RunningEmulator
) -> None:
    body = _body(f"stream cache {uuid.uuid4()}", stream_options={"include_usage": True})
    first, events1, done1 = stream_raw(gateway.url, KEY, body)
    before = _calls(emulator)
    second, events2, done2 = stream_raw(gateway.url, KEY, body)
    assert (first.headers["x-gateway-cache"], second.headers["x-gateway-cache"]) == ("miss", "hit")
    assert _calls(emulator) == before
    assert done1 and done2
    assert _deltas(events1) == _deltas(events2) and len(_deltas(events2)) >= 8
    live, replayed = events1[-1]["usage"], events2[-1]["usage"]
    assert events2[-1]["choices"] == [] and live["cost_usd"] > 0 and replayed["cost_usd"] == 0
    assert {**replayed, "cost_usd": live["cost_usd"]} == live  # the same usage, billed 0
    assert events2[-1]["service_tier"] == events1[-1]["service_tier"] == "default"


def test_stream_entry_answers_plain_and_plain_entry_answers_stream(
    client: openai.OpenAI, gateway: GatewayServer
) -> None:
    text = f"cross {uuid.uuid4()}"
    stream_raw(gateway.url, KEY, _body(text))
    plain = _plain(client, text)
    assert plain.headers["x-gateway-cache"] == "hit"
    assert "You said: cross" in (
        validate_completion(plain.http_response.content).choices[0].message.content or ""
    )
    other = f"cross2 {uuid.uuid4()}"
    _plain(client, other)
    response, events, done = stream_raw(gateway.url, KEY, _body(other))
    assert response.headers["x-gateway-cache"] == "hit" and done
    assert "".join(d.get("content") or "" for d in _deltas(events)).endswith(other)


def test_cache_control_no_cache_and_no_store(client: openai.OpenAI) -> None:
    text = f"cc {uuid.uuid4()}"
    skipped = _plain(client, text, extra_headers={"Cache-Control": "no-store"})
    assert skipped.headers["x-gateway-cache"] == "bypass"
    assert _plain(client, text).headers["x-gateway-cache"] == "miss"  # no-store stored nothing
    refreshed = _plain(client, text, extra_headers={"Cache-Control": "no-cache"})
    assert refreshed.headers["x-gateway-cache"] == "bypass"
    assert _plain(client, text).headers["x-gateway-cache"] == "hit"


def test_sampled_requests_are_not_cached(client: openai.OpenAI) -> None:
    text = f"sampled {uuid.uuid4()}"
    for _ in range(2):
        raw = client.chat.completions.with_raw_response.create(
            model="haiku", messages=[{"role": "user", "content": text}], temperature=0.7
        )
        assert raw.headers["x-gateway-cache"] == "bypass"


def test_tenants_never_share_answers(gateway: GatewayServer, client: openai.OpenAI) -> None:
    text = f"tenant {uuid.uuid4()}"
    assert _plain(client, text).headers["x-gateway-cache"] == "miss"
    kids = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="sk-e2e-kids", max_retries=0)
    assert _plain(kids, text).headers["x-gateway-cache"] == "miss"
    assert _plain(kids, text).headers["x-gateway-cache"] == "hit"


def test_header_rule_to_guarded_route_is_not_answered_from_unguarded_entry(
    client: openai.OpenAI, emulator: RunningEmulator
) -> None:
    """The same body, sent by a header rule to a guarded tier-3 route, is a different question:
    the unguarded route's entry must not answer it (the guardrail must get to intervene)."""
    text = f"forbidden topic {uuid.uuid4()}"
    plain = _plain(client, text)
    assert plain.headers["x-gateway-cache"] == "miss"
    assert validate_completion(plain.http_response.content).choices[0].finish_reason == "stop"
    before = _calls(emulator)
    guarded = client.chat.completions.with_raw_response.create(
        **_body(text), extra_headers={"x-data-class": "confidential"}
    )
    assert guarded.headers["x-gateway-route"] == "guarded"
    assert guarded.headers["x-gateway-cache"] == "miss"
    assert _calls(emulator) == before + 1
    reply = validate_completion(guarded.http_response.content)
    assert reply.choices[0].finish_reason == "content_filter"
    again = client.chat.completions.with_raw_response.create(
        **_body(text), extra_headers={"x-data-class": "confidential"}
    )
    assert again.headers["x-gateway-cache"] == "hit"
    assert validate_completion(again.http_response.content).choices[0].finish_reason == (
        "content_filter"
    )
