"""E2E: OpenTelemetry traces, received by a real OTLP/HTTP endpoint and decoded with the
official protobuf types: a server span per request, a client span per Bedrock attempt."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from gateway.emulator.runner import RunningEmulator
from tests.support.otlp_collector import Collector, running_collector
from tests.support.servers import GatewayServer, aws_env, running_gateway

POLICY = Path(__file__).parent / "policies" / "e2e.yaml"
KEY = "sk-tracing"
MISTRAL = "mistral.mistral-7b-instruct-v0:2"
LLAMA = "meta.llama3-8b-instruct-v1:0"
SECRET_PROMPT = "the launch code is 0000"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


@pytest.fixture(scope="module")
def collector() -> Iterator[Collector]:
    with running_collector() as server:
        yield server


@pytest.fixture(scope="module")
def traced(emulator: RunningEmulator, collector: Collector) -> Iterator[GatewayServer]:
    env = {
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": os.environ["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"],
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url,
        "OTEL_SERVICE_NAME": "gateway-under-test",
    }
    with contextlib.ExitStack() as stack:
        with aws_env(env):  # read at start only: the other tests run without OTEL_*
            server = stack.enter_context(running_gateway(policies=POLICY, api_keys=KEY))
        yield server


def _attrs(span: Span) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kv in span.attributes:
        value = kv.value
        kind = value.WhichOneof("value")
        if kind == "array_value":
            out[kv.key] = [v.string_value for v in value.array_value.values]
        else:
            out[kv.key] = getattr(value, kind)
    return out


def _spans_of(collector: Collector, server: GatewayServer, trace_id: bytes) -> list[Span]:
    assert server.state.tracing.force_flush()
    with collector.lock:
        return [s for s in collector.spans if s.trace_id == trace_id]


def test_a_fallback_is_two_sibling_client_spans_under_the_server_span(
    traced: GatewayServer, collector: Collector, emulator: RunningEmulator
) -> None:
    emulator.state.set_fault(MISTRAL, "throttle", times=1)
    sdk = openai.OpenAI(base_url=f"{traced.url}/v1", api_key=KEY, max_retries=0)
    raw = sdk.chat.completions.with_raw_response.create(
        model="chain",
        messages=[{"role": "user", "content": SECRET_PROMPT}],
        extra_headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"},
    )
    assert raw.headers["x-gateway-model"] == LLAMA
    spans = _spans_of(collector, traced, bytes.fromhex(TRACE_ID))
    servers = [s for s in spans if s.kind == Span.SPAN_KIND_SERVER]
    clients = sorted(
        (s for s in spans if s.kind == Span.SPAN_KIND_CLIENT), key=lambda s: s.start_time_unix_nano
    )
    assert len(servers) == 1 and len(clients) == 2
    server = servers[0]
    assert server.parent_span_id == bytes.fromhex(PARENT_ID)  # the client's trace continued
    assert server.name == "POST /v1/chat/completions"
    assert all(c.parent_span_id == server.span_id for c in clients)
    top = _attrs(server)
    assert top["gen_ai.operation.name"] == "chat"
    assert top["gen_ai.request.model"] == "chain"
    assert top["gen_ai.response.model"] == LLAMA
    assert top["gateway.route"] == "chain" and top["gateway.attempts"] == 2
    assert top["gateway.cache"] in ("miss", "off", "bypass")
    assert top["gen_ai.usage.input_tokens"] > 0 and top["gen_ai.usage.output_tokens"] > 0
    assert top["gen_ai.response.finish_reasons"] == ["stop"]
    assert top["http.response.status_code"] == 200
    first, second = (_attrs(c) for c in clients)
    assert first["gen_ai.request.model"] == MISTRAL and first["error.type"] == "throttled"
    assert clients[0].status.code == clients[0].status.STATUS_CODE_ERROR
    assert second["gen_ai.request.model"] == LLAMA and "error.type" not in second
    assert second["gen_ai.provider.name"] == "aws.bedrock"
    assert second["gen_ai.usage.output_tokens"] > 0
    everything = b"".join(s.SerializeToString() for s in spans)
    assert SECRET_PROMPT.encode() not in everything  # no prompt text without the debug switch


def test_a_streamed_request_and_embeddings_are_traced_too(
    traced: GatewayServer, collector: Collector
) -> None:
    sdk = openai.OpenAI(base_url=f"{traced.url}/v1", api_key=KEY, max_retries=0)
    trace = "0af7651916cd43dd8448eb211c80319c"
    header = {"traceparent": f"00-{trace}-b7ad6b7169203331-01"}
    list(
        sdk.chat.completions.create(
            model="chain",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            extra_headers=header,
        )
    )
    sdk.embeddings.create(model="embed", input="hello", extra_headers=header)
    spans = _spans_of(collector, traced, bytes.fromhex(trace))
    servers = {s.name: _attrs(s) for s in spans if s.kind == Span.SPAN_KIND_SERVER}
    assert servers["POST /v1/chat/completions"]["gen_ai.response.finish_reasons"] == ["stop"]
    assert servers["POST /v1/embeddings"]["gen_ai.operation.name"] == "embeddings"
    clients = [_attrs(s) for s in spans if s.kind == Span.SPAN_KIND_CLIENT]
    assert {c["gen_ai.operation.name"] for c in clients} == {"chat", "embeddings"}


def test_a_responses_call_is_a_chat_server_span_with_its_client_span(
    traced: GatewayServer, collector: Collector
) -> None:
    sdk = openai.OpenAI(base_url=f"{traced.url}/v1", api_key=KEY, max_retries=0)
    trace = "5a1c2b3d4e5f60718293a4b5c6d7e8f9"
    header = {"traceparent": f"00-{trace}-00f067aa0ba902b7-01"}
    sdk.responses.create(model="chain", input="hi", store=False, extra_headers=header)
    spans = _spans_of(collector, traced, bytes.fromhex(trace))
    [server] = [_attrs(s) for s in spans if s.kind == Span.SPAN_KIND_SERVER]
    assert server["gen_ai.operation.name"] == "chat"
    assert server["http.response.status_code"] == 200
    assert [s.name for s in spans if s.kind == Span.SPAN_KIND_SERVER] == ["POST /v1/responses"]
    clients = [_attrs(s) for s in spans if s.kind == Span.SPAN_KIND_CLIENT]
    assert len(clients) == 1 and clients[0]["gen_ai.operation.name"] == "chat"


def test_the_resource_is_named_by_otel_service_name(
    traced: GatewayServer, collector: Collector
) -> None:
    """``OTEL_SERVICE_NAME`` names the service (the gateway's own name is only the default)."""
    sdk = openai.OpenAI(base_url=f"{traced.url}/v1", api_key=KEY, max_retries=0)
    sdk.chat.completions.create(model="haiku", messages=[{"role": "user", "content": "hi"}])
    assert traced.state.tracing.force_flush()
    with collector.lock:
        _, resource = collector.exports[-1]
    assert resource["service.name"] == "gateway-under-test"
    assert resource["service.version"] == "0.1.0"


def test_tracing_is_off_without_otel_settings(emulator: RunningEmulator) -> None:
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" not in os.environ
    with running_gateway(policies=POLICY, api_keys=KEY) as server:
        assert not server.state.tracing.enabled


def test_prompt_and_answer_only_with_the_debug_switch(
    emulator: RunningEmulator, collector: Collector
) -> None:
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": collector.url}
    with contextlib.ExitStack() as stack:
        with aws_env(env):
            server = stack.enter_context(
                running_gateway(policies=POLICY, api_keys=KEY, log_prompts=True)
            )
        sdk = openai.OpenAI(base_url=f"{server.url}/v1", api_key=KEY, max_retries=0)
        trace = "11111111111111111111111111111111"
        sdk.chat.completions.create(
            model="haiku",
            messages=[{"role": "user", "content": SECRET_PROMPT}],
            extra_headers={"traceparent": f"00-{trace}-2222222222222222-01"},
        )
        spans = _spans_of(collector, server, bytes.fromhex(trace))
    top = next(_attrs(s) for s in spans if s.kind == Span.SPAN_KIND_SERVER)
    assert SECRET_PROMPT in top["gen_ai.input.messages"]
    assert top["gen_ai.output.messages"]
