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

from gateway.errors import ModelRefusedError, UpstreamServerError, UpstreamTimeoutError
from gateway.jsonbytes import json_bytes
from gateway.routing.policy import Guardrail, ModelSpec
from gateway.translation.converse_to_openai import chat_completion
from gateway.translation.openai_to_converse import (
    PreparedConversation,
    converse_body,
    output_budget,
)
from gateway.translation.stream import StreamTranslator

if TYPE_CHECKING:
    from gateway.providers.bedrock import BedrockClient

_PREAMBLE = frozenset({"messageStart"})


@dataclass(frozen=True, slots=True)
class CallResult:
    completion: dict[str, Any]
    latency_s: float
    ttft_s: float | None


def call_id_for(model: ModelSpec, residency_rank: int) -> str:
    """The id the model is called by under the request's residency (an inference profile
    where the region needs one), as the primary call would."""
    invocation = model.invocation(residency_rank)
    if invocation.model_id is None:
        raise ModelRefusedError(f"{model.name} cannot be called here: {invocation.reason}")
    return invocation.model_id


def body_for(
    prepared: PreparedConversation, model: ModelSpec, guardrail: Guardrail | None, model_id: str
) -> bytes:
    """The Converse body the primary call would send this model (``maxTokens`` included)."""
    body = converse_body(
        prepared,
        model_id,
        guardrail=(guardrail.id, guardrail.version) if guardrail else None,
        default_max_tokens=output_budget(
            prepared.prompt_tokens, model.max_output_tokens, model.context_window
        ),
    )
    return json_bytes(body)


async def call_chat(
    bedrock: BedrockClient,
    prepared: PreparedConversation,
    model: ModelSpec,
    *,
    guardrail: Guardrail | None,
    stream: bool,
    timeout: float,
    residency_rank: int = 1,
) -> CallResult:
    """The model's ``chat.completion`` for the request, with its latency (and TTFT if streamed).
    A model without tool use while streaming answers a streamed request with tools unstreamed,
    as the primary call would be served."""
    model_id = call_id_for(model, residency_rank)
    body = body_for(prepared, model, guardrail, model_id)
    caps = model.caps
    if stream and prepared.uses_tools and caps is not None and not caps.streaming_tools:
        stream = False
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            if not stream:
                resp = await bedrock.converse(model_id, body, timeout=timeout)
                completion = chat_completion(
                    resp,
                    completion_id="shadow",
                    model=model_id,
                    created=0,
                    prepared=prepared,
                )
                return CallResult(completion, time.perf_counter() - started, None)
            return await _streamed(bedrock, prepared, model_id, body, timeout, started)
    except TimeoutError as exc:
        raise UpstreamTimeoutError(f"{model.name} gave no answer within {timeout:g}s") from exc


async def _streamed(
    bedrock: BedrockClient,
    prepared: PreparedConversation,
    model_id: str,
    body: bytes,
    timeout: float,
    started: float,
) -> CallResult:
    translator = StreamTranslator("shadow", model_id, 0, True, prepared)
    ttft: float | None = None
    events = await bedrock.converse_stream(model_id, body, timeout=timeout)
    async with events:
        async for event_type, payload in events:
            if ttft is None and event_type not in _PREAMBLE:
                ttft = time.perf_counter() - started
            translator.feed(event_type, payload)
    if not translator.finished:
        raise UpstreamServerError("Bedrock's stream ended before the message was complete.")
    return CallResult(translator.to_completion(), time.perf_counter() - started, ttft)
