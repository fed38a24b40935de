"""Shadow layer: one chat call to one model outside the client's path, timed.

A request the client streamed is shadowed with ConverseStream (so the time to first token is
measured like the primary's); any other with Converse. Failures raise ``GatewayError``s as the
provider maps them (``reason`` is the error kind); the whole call is bounded by ``timeout``.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from gateway.errors import UpstreamServerError, UpstreamTimeoutError
from gateway.routing.policy import Guardrail, ModelSpec
from gateway.translation.converse_to_openai import chat_completion
from gateway.translation.openai_to_converse import PreparedConversation, converse_body
from gateway.translation.stream import StreamTranslator

if TYPE_CHECKING:
    from gateway.providers.bedrock import BedrockClient

_PREAMBLE = frozenset({"messageStart"})


@dataclass(frozen=True, slots=True)
class CallResult:
    completion: dict[str, Any]
    latency_s: float
    ttft_s: float | None


def body_for(
    prepared: PreparedConversation, model: ModelSpec, guardrail: Guardrail | None
) -> bytes:
    body = converse_body(
        prepared,
        model.bedrock_id,
        guardrail=(guardrail.id, guardrail.version) if guardrail else None,
    )
    return orjson.dumps(body)


async def call_chat(
    bedrock: BedrockClient,
    prepared: PreparedConversation,
    model: ModelSpec,
    *,
    guardrail: Guardrail | None,
    stream: bool,
    timeout: float,
) -> CallResult:
    """The model's ``chat.completion`` for the request, with its latency (and TTFT if streamed)."""
    body = body_for(prepared, model, guardrail)
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            if not stream:
                resp = await bedrock.converse(model.bedrock_id, body, timeout=timeout)
                completion = chat_completion(
                    resp,
                    completion_id="shadow",
                    model=model.bedrock_id,
                    created=0,
                    prepared=prepared,
                )
                return CallResult(completion, time.perf_counter() - started, None)
            return await _streamed(bedrock, prepared, model, body, timeout, started)
    except TimeoutError as exc:
        raise UpstreamTimeoutError(f"{model.name} gave no answer within {timeout:g}s") from exc


async def _streamed(
    bedrock: BedrockClient,
    prepared: PreparedConversation,
    model: ModelSpec,
    body: bytes,
    timeout: float,
    started: float,
) -> CallResult:
    translator = StreamTranslator("shadow", model.bedrock_id, 0, True, prepared)
    ttft: float | None = None
    events = await bedrock.converse_stream(model.bedrock_id, body, timeout=timeout)
    async with events:
        async for event_type, payload in events:
            if ttft is None and event_type not in _PREAMBLE:
                ttft = time.perf_counter() - started
            translator.feed(event_type, payload)
    if not translator.finished:
        raise UpstreamServerError("Bedrock's stream ended before the message was complete.")
    return CallResult(translator.to_completion(), time.perf_counter() - started, ttft)
