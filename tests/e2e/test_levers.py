"""E2E: Bedrock's cost levers through the gateway, with cost figures checked against the usage
the strict emulator reports (it validates every body with botocore's ParamValidator and
refuses cache points, tiers, latency and documents a model or region does not offer)."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.emulator.credentials import EMULATOR_ACCESS_KEY_ID, EMULATOR_SECRET_ACCESS_KEY
from gateway.emulator.runner import RunningEmulator, start_emulator_in_thread
from tests.e2e.conftest import KEY
from tests.support.openai_wire import validate_completion
from tests.support.servers import GatewayServer, aws_env, running_gateway

POLICY = Path(__file__).parent / "policies" / "levers.yaml"
REGION = "us-west-2"
SONNET = (3.0, 15.0, 0.3, 3.75)  # input, output, cache read, cache write (USD per million)
SYSTEM = "You answer questions about the attached handbook. " + "handbook text " * 500
PDF = base64.b64encode(b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n").decode()


@pytest.fixture(scope="module")
def levers_gateway() -> Iterator[tuple[GatewayServer, RunningEmulator]]:
    strict = start_emulator_in_thread("127.0.0.1", 0, strict=True)
    env = {
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": strict.url,
        "AWS_ACCESS_KEY_ID": EMULATOR_ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": EMULATOR_SECRET_ACCESS_KEY,
        "AWS_REGION": REGION,
    }
    try:
        with aws_env(env), running_gateway(policies=POLICY, api_keys=KEY) as gw:
            yield gw, strict
    finally:
        strict.stop()


@pytest.fixture
def api(levers_gateway: tuple[GatewayServer, RunningEmulator]) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{levers_gateway[0].url}/v1", api_key=KEY, max_retries=0)


def _cost(usage: Any, price: tuple[float, ...]) -> float:
    """What the usage costs at (input, output[, cache read, cache write]) prices."""
    details = usage.prompt_tokens_details
    read = details.cached_tokens or 0
    write = details.cache_write_tokens or 0
    uncached = usage.prompt_tokens - read - write
    read_price, write_price = (price[2], price[3]) if len(price) > 2 else (price[0], price[0])
    total = uncached * price[0] + read * read_price + write * write_price
    return (total + usage.completion_tokens * price[1]) / 1e6


def _ask(api: openai.OpenAI, model: str, system: str, question: str, **kw: Any) -> Any:
    return api.chat.completions.with_raw_response.create(
        model=model,
        messages=[{"role": "system", "content": system}, {"role": "user", "content": question}],
        **kw,
    )


def _cost_metric(url: str, route: str, model: str) -> float:
    for family in text_string_to_metric_families(httpx.get(f"{url}/metrics").text):
        for sample in family.samples:
            wanted = {"route": route, "model": model}
            if sample.name == "gateway_cost_usd_total" and wanted.items() <= sample.labels.items():
                return float(sample.value)
    return 0.0


def test_prompt_cache_writes_then_reads_and_costs_less(api: openai.OpenAI) -> None:
    system = "cache-test-1. " + SYSTEM
    first = _ask(api, "cached", system, "What is in chapter one?")
    second = _ask(api, "cached", system, "And in chapter two?")
    one, two = validate_completion(first.http_response.content), first.parse()
    assert one.usage is not None and two.usage is not None
    written = one.usage.prompt_tokens_details.cache_write_tokens
    assert written is not None and written > 1024  # the system prompt, past Sonnet's minimum
    assert one.usage.prompt_tokens_details.cached_tokens == 0
    again = second.parse()
    assert again.usage is not None
    assert again.usage.prompt_tokens_details.cached_tokens == written
    for raw, completion in ((first, one), (second, again)):
        assert float(raw.headers["x-gateway-cost-usd"]) == pytest.approx(
            _cost(completion.usage, SONNET), abs=1e-8
        )
    assert float(second.headers["x-gateway-cost-usd"]) < float(first.headers["x-gateway-cost-usd"])


def test_prompt_cache_off_route_sends_no_cache_point(api: openai.OpenAI) -> None:
    system = "cache-test-2. " + SYSTEM
    _ask(api, "uncached", system, "q1")
    raw = _ask(api, "uncached", system, "q2")
    completion = raw.parse()
    assert completion.usage is not None
    assert completion.usage.prompt_tokens_details.cached_tokens == 0
    assert float(raw.headers["x-gateway-cost-usd"]) == pytest.approx(
        _cost(completion.usage, SONNET[:2]), abs=1e-8
    )


def test_short_prompt_gets_no_cache_point(api: openai.OpenAI) -> None:
    """Under the model's minimum a cache point is not placed (strict Bedrock would not cache)."""
    for _ in range(2):
        completion = _ask(api, "cached", "Be brief.", "hello").parse()
        assert completion.usage is not None
        assert completion.usage.prompt_tokens_details.cached_tokens == 0
        assert completion.usage.prompt_tokens_details.cache_write_tokens is None


def test_streamed_cache_read_is_in_usage_and_metrics(
    api: openai.OpenAI, levers_gateway: tuple[GatewayServer, RunningEmulator]
) -> None:
    url = levers_gateway[0].url
    system = "cache-test-3. " + SYSTEM
    _ask(api, "cached", system, "warm the cache")
    before = _cost_metric(url, "cached", "sonnet-45")
    chunks = list(
        api.chat.completions.create(
            model="cached",
            messages=[{"role": "system", "content": system}, {"role": "user", "content": "q"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    usage = chunks[-1].usage
    assert usage is not None and usage.prompt_tokens_details is not None
    assert (usage.prompt_tokens_details.cached_tokens or 0) > 1024
    assert chunks[-1].service_tier == "default"
    spent = _cost_metric(url, "cached", "sonnet-45") - before
    assert spent == pytest.approx(_cost(usage, SONNET), abs=1e-9)
    assert (usage.model_extra or {})["cost_usd"] == pytest.approx(spent, abs=1e-8)


@pytest.mark.parametrize(
    ("requested", "served", "price"),
    [
        (None, "flex", (0.035, 0.15)),  # the route's default
        ("auto", "flex", (0.035, 0.15)),
        ("priority", "priority", (0.125, 0.525)),
        ("default", "default", (0.07, 0.3)),
    ],
)
def test_service_tier_is_sent_served_and_priced(
    api: openai.OpenAI, requested: str | None, served: str, price: tuple[float, float]
) -> None:
    extra = {} if requested is None else {"service_tier": requested}
    raw = _ask(api, "batch", "Be brief.", f"tier {requested}", **extra)
    completion = raw.parse()
    assert completion.service_tier == served
    assert float(raw.headers["x-gateway-cost-usd"]) == pytest.approx(
        _cost(completion.usage, price), abs=1e-8
    )


def test_service_tier_on_model_without_tiers_is_served_default(api: openai.OpenAI) -> None:
    """Sonnet offers no flex tier: nothing is sent (strict Bedrock would refuse it)."""
    completion = _ask(api, "cached", "Be brief.", "flex?", service_tier="flex").parse()
    assert completion.service_tier == "default"


def test_unknown_service_tier_is_a_400(api: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        _ask(api, "batch", "Be brief.", "x", service_tier="turbo")
    assert info.value.body is not None
    assert info.value.body["param"] == "service_tier"  # type: ignore[index]


def test_latency_optimized_route_is_priced_as_optimized(api: openai.OpenAI) -> None:
    raw = _ask(api, "fast", "Be brief.", "fast please")
    completion = raw.parse()
    assert raw.headers["x-gateway-model"] == "meta.llama3-1-70b-instruct-v1:0"
    assert float(raw.headers["x-gateway-cost-usd"]) == pytest.approx(
        _cost(completion.usage, (0.9, 0.9)), abs=1e-8
    )


def _fields_sent(emulator: RunningEmulator, operation: str) -> Any:
    """The ``additionalModelRequestFields`` of the one call since the log was reset (the
    emulator logs a stream once it has written it, which may be just after the client read it)."""
    deadline = time.monotonic() + 10
    while not (calls := [c for c in emulator.state.calls() if c["operation"] == operation]):
        assert time.monotonic() < deadline, emulator.state.calls()
        time.sleep(0.01)
    assert len(calls) == 1, calls
    return calls[0]["additional_fields"]


def test_extra_field_allowed_by_the_route(
    api: openai.OpenAI, levers_gateway: tuple[GatewayServer, RunningEmulator]
) -> None:
    emulator = levers_gateway[1]
    emulator.state.reset_calls()
    raw = _ask(api, "open", "Be brief.", "top k", extra_body={"top_k": 5})
    assert raw.parse().choices[0].message.content
    assert _fields_sent(emulator, "converse") == {"top_k": 5}


@pytest.mark.parametrize(
    ("route", "field"), [("cached", "top_k"), ("open", "min_p"), ("open", "foo")]
)
def test_extra_field_not_allowed_is_a_400(api: openai.OpenAI, route: str, field: str) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        _ask(api, route, "Be brief.", "x", extra_body={field: 1})
    body: Any = info.value.body
    assert body["param"] == field
    assert body["message"] == f"Unrecognized request argument supplied: {field}"
    if route == "cached":  # refused after routing: the header says the refusal cost nothing
        assert info.value.response.headers["x-gateway-route"] == "cached"
        assert float(info.value.response.headers["x-gateway-cost-usd"]) == 0.0


def _file(name: str = "handbook.pdf", data: str = PDF) -> dict[str, Any]:
    return {"type": "file", "file": {"filename": name, "file_data": data}}


def test_document_is_routed_to_a_model_with_documents(api: openai.OpenAI) -> None:
    raw = api.chat.completions.with_raw_response.create(
        model="docs",
        messages=[{"role": "user", "content": [{"type": "text", "text": "Summarise"}, _file()]}],
    )
    assert raw.headers["x-gateway-model"] == "anthropic.claude-3-haiku-20240307-v1:0"
    assert validate_completion(raw.http_response.content).choices[0].message.content


def test_document_only_message_is_answered(api: openai.OpenAI) -> None:
    """A turn with files and no text gets a text block naming them (Bedrock requires one)."""
    raw = api.chat.completions.with_raw_response.create(
        model="docs",
        messages=[{"role": "user", "content": [_file("a.pdf"), _file("a.pdf")]}],
    )
    content = raw.parse().choices[0].message.content
    assert content is not None and "[document: a, a (2)]" in content


def test_document_on_a_route_without_document_models_is_refused(api: openai.OpenAI) -> None:
    with pytest.raises(openai.APIStatusError) as info:
        api.chat.completions.create(
            model="text-only",
            messages=[{"role": "user", "content": [{"type": "text", "text": "x"}, _file()]}],
        )
    assert info.value.status_code in (400, 422, 503)
    assert "documents" in str(info.value.body)


@pytest.mark.parametrize(
    ("parts", "param", "text"),
    [
        ([_file(f"f{i}.pdf") for i in range(6)], "messages[0].content[6]", "at most 5"),
        ([_file("x.bin", base64.b64encode(b"\x00\x01").decode())], "messages[0].content[1]", "pdf"),
        ([_file(data="not base64!")], "messages[0].content[1].file.file_data", "base64"),
    ],
)
def test_bad_documents_are_400_naming_the_part(
    api: openai.OpenAI, parts: list[dict[str, Any]], param: str, text: str
) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        api.chat.completions.create(
            model="docs",
            messages=[{"role": "user", "content": [{"type": "text", "text": "x"}, *parts]}],
        )
    body: Any = info.value.body
    assert body["param"] == param
    assert text in body["message"]


def _explained_cost(url: str, system: str, key: str | None = None) -> float:
    body: dict[str, Any] = {
        "model": "cached",
        "messages": [{"role": "system", "content": system}, {"role": "user", "content": "q"}],
    }
    if key is not None:
        body["prompt_cache_key"] = key
    response = httpx.post(
        f"{url}/v1/gateway/explain", json=body, headers={"Authorization": f"Bearer {KEY}"}
    )
    assert response.status_code == 200, response.text
    explained = response.json()
    assert explained["levers"] == {
        "prompt_cache": "auto",
        "service_tier": "default",
        "latency": "standard",
        "extra_fields": [],
    }
    return float(explained["candidates"][0]["est_cost_usd"])


def test_estimate_counts_cache_reads_of_a_known_prefix_per_cache_key(
    api: openai.OpenAI, levers_gateway: tuple[GatewayServer, RunningEmulator]
) -> None:
    url = levers_gateway[0].url
    system = "cache-test-4. " + SYSTEM
    cold = _explained_cost(url, system, key="team-a")
    api.chat.completions.create(
        model="cached",
        messages=[{"role": "system", "content": system}, {"role": "user", "content": "q"}],
        prompt_cache_key="team-a",
    )
    warm = _explained_cost(url, system, key="team-a")
    other = _explained_cost(url, system, key="team-b")
    assert warm < cold  # the system prompt is now expected at the cache-read price
    assert other == cold  # another cache key does not count team-a's prefix
    prefix_tokens = len(system) / 4
    assert cold - warm == pytest.approx(prefix_tokens * (SONNET[0] - SONNET[2]) / 1e6, rel=0.01)


def test_replayed_stream_keeps_the_served_tier(api: openai.OpenAI) -> None:
    """gpt-oss takes no tools while streaming: one Converse call replayed as a stream."""
    tool = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
    chunks = list(
        api.chat.completions.create(
            model="batch",
            messages=[{"role": "user", "content": "hello"}],
            tools=[tool],  # type: ignore[list-item]
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    final = chunks[-1]
    assert final.service_tier == "flex" and final.usage is not None
    cost = (final.usage.model_extra or {})["cost_usd"]
    assert cost == pytest.approx(_cost(final.usage, (0.035, 0.15)), abs=1e-8)


# --- The same levers through POST /v1/responses -------------------------------------------


def test_responses_prompt_cache_writes_then_reads(api: openai.OpenAI) -> None:
    system = "cache-test-responses. " + SYSTEM
    first = api.responses.with_raw_response.create(
        model="cached", instructions=system, input="chapter one?", store=False
    )
    second = api.responses.with_raw_response.create(
        model="cached", instructions=system, input="chapter two?", store=False
    )
    one, two = first.parse(), second.parse()
    assert one.usage is not None and two.usage is not None
    assert one.usage.input_tokens_details.cached_tokens == 0
    assert two.usage.input_tokens_details.cached_tokens > 1024  # the instructions, read back
    assert float(second.headers["x-gateway-cost-usd"]) < float(first.headers["x-gateway-cost-usd"])


@pytest.mark.parametrize(("requested", "served"), [(None, "flex"), ("priority", "priority")])
def test_responses_service_tier_is_sent_and_served(
    api: openai.OpenAI, requested: str | None, served: str
) -> None:
    extra: dict[str, Any] = {} if requested is None else {"service_tier": requested}
    raw = api.responses.with_raw_response.create(
        model="batch", input=f"responses tier {requested}", store=False, **extra
    )
    response = raw.parse()
    assert response.service_tier == served
    assert float(raw.headers["x-gateway-cost-usd"]) > 0


def test_responses_unknown_service_tier_is_a_400(api: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        api.responses.create(model="batch", input="x", service_tier="turbo", store=False)  # type: ignore[arg-type]
    assert info.value.body is not None
    assert info.value.body["param"] == "service_tier"  # type: ignore[index]


@pytest.mark.parametrize("stream", [False, True])
def test_responses_extra_field_allowed_by_the_route(
    api: openai.OpenAI, levers_gateway: tuple[GatewayServer, RunningEmulator], stream: bool
) -> None:
    """The route's ``extra_fields`` apply to /v1/responses as to chat: sent to Bedrock as
    ``additionalModelRequestFields``."""
    emulator = levers_gateway[1]
    emulator.state.reset_calls()
    if stream:
        events = list(
            api.responses.create(
                model="open", input="top k", store=False, stream=True, extra_body={"top_k": 7}
            )
        )
        assert events[-1].type == "response.completed"
    else:
        response = api.responses.create(
            model="open", input="top k", store=False, extra_body={"top_k": 7}
        )
        assert response.output_text
    operation = "converse-stream" if stream else "converse"
    assert _fields_sent(emulator, operation) == {"top_k": 7}


@pytest.mark.parametrize(
    ("route", "field"), [("cached", "top_k"), ("open", "min_p"), ("open", "foo")]
)
def test_responses_extra_field_not_allowed_is_a_400(
    api: openai.OpenAI, route: str, field: str
) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        api.responses.create(model=route, input="x", store=False, extra_body={field: 1})
    body: Any = info.value.body
    assert body["param"] == field
    assert body["message"] == f"Unrecognized request argument supplied: {field}"
    if route == "cached":  # refused after routing, as on chat
        assert info.value.response.headers["x-gateway-route"] == "cached"
        assert float(info.value.response.headers["x-gateway-cost-usd"]) == 0.0
