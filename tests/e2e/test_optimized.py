"""E2E: the image runs python with ``PYTHONOPTIMIZE=2`` (no docstrings, no asserts; 3 MB less
per worker). The served paths under it, with the openai SDK against ``gateway serve`` in its
own process: chat plain, streamed and with a tool call, a stored response read back, a
streamed response, embeddings, /v1/models, the OpenAPI document and /metrics."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2 as httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.emulator.runner import RunningEmulator
from gateway.schemas.chat import FilePart
from tests.e2e.conftest import KEY, POLICY
from tests.support.openai_wire import stream_raw, validate_completion, validate_embeddings
from tests.support.process import GatewayProcess
from tests.support.responses_wire import post_stream, validate_response

TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


@pytest.fixture(scope="module")
def optimized(tmp_path_factory: pytest.TempPathFactory, emulator: RunningEmulator) -> Iterator[str]:
    env = {"GATEWAY_POLICIES": str(POLICY), "GATEWAY_API_KEYS": KEY, "PYTHONOPTIMIZE": "2"}
    log = tmp_path_factory.mktemp("optimized") / "gw.log"
    proc = GatewayProcess(env, log_path=log).wait_ready(timeout=40)
    try:
        yield proc.url
    finally:
        assert proc.stop() == 0, proc.output()
    assert "Traceback" not in proc.output()  # no AttributeError on a missing __doc__, say


def test_the_process_runs_without_docstrings(optimized: str) -> None:
    """The request models' docstrings are their schemas' descriptions: gone under -OO."""
    doc = httpx.get(f"{optimized}/openapi.json", timeout=10).json()
    schemas = doc["components"]["schemas"]
    assert FilePart.__doc__  # this (unoptimized) process has it; the served document not
    assert "description" not in schemas["FilePart"]
    assert {"FunctionCallItem", "ReasoningConfig"} <= set(schemas)  # Responses' parts too


def test_chat_plain_streamed_and_with_a_tool(optimized: str) -> None:
    sdk = openai.OpenAI(base_url=f"{optimized}/v1", api_key=KEY, max_retries=0)
    raw = sdk.chat.completions.with_raw_response.create(
        model="haiku", messages=[{"role": "user", "content": "hi"}]
    )
    assert validate_completion(raw.http_response.content).choices[0].finish_reason == "stop"
    response, events, done = stream_raw(
        optimized, KEY, {"model": "haiku", "messages": [{"role": "user", "content": "hi"}]}
    )
    assert response.status_code == 200 and done and events
    raw = sdk.chat.completions.with_raw_response.create(
        model="tools",
        messages=[{"role": "user", "content": "weather in Paris?"}],
        tools=[TOOL],  # type: ignore[list-item]
        tool_choice="required",
    )
    assert validate_completion(raw.http_response.content).choices[0].finish_reason == "tool_calls"


def test_a_bad_request_is_still_an_openai_error(optimized: str) -> None:
    sdk = openai.OpenAI(base_url=f"{optimized}/v1", api_key=KEY, max_retries=0)
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.chat.completions.create(model="haiku", messages=[])
    assert caught.value.body["param"] == "messages"  # type: ignore[index]


def test_responses_stored_read_back_and_streamed(optimized: str) -> None:
    sdk = openai.OpenAI(base_url=f"{optimized}/v1", api_key=KEY, max_retries=0)
    raw = sdk.responses.with_raw_response.create(model="haiku", input="hi")
    created = validate_response(raw.http_response.content)
    again = sdk.responses.with_raw_response.retrieve(created.id)
    assert validate_response(again.http_response.content).output == created.output
    response, events = post_stream(optimized, KEY, {"model": "haiku", "input": "hi"})
    assert response.status_code == 200 and events[-1].type == "response.completed"


def test_embeddings_models_and_metrics(optimized: str) -> None:
    sdk = openai.OpenAI(base_url=f"{optimized}/v1", api_key=KEY, max_retries=0)
    raw = sdk.embeddings.with_raw_response.create(model="embed", input="hello")
    assert validate_embeddings(raw.http_response.content).data[0].embedding
    assert "haiku" in [m.id for m in sdk.models.list()]
    assert sdk.models.retrieve("haiku").id == "haiku"
    text = httpx.get(f"{optimized}/metrics", timeout=10).text
    served = sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "gateway_requests_total"
    )
    assert served >= 3
