"""Service: streamed chat answers — ConverseStream events to OpenAI SSE chunks, with fallback.

A stream may fall back to the next candidate until its first byte reaches the client: the
gateway reads Bedrock's stream up to the first event that carries content (Bedrock can answer
200 and then throttle in its first frame) before committing to a model. After that, a failure
ends the stream with an OpenAI-style error event, never a silent stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import anyio

from gateway.cache.answers import CachedAnswer, Delta
from gateway.errors import UpstreamError, UpstreamMalformedError, UpstreamServerError
from gateway.routing.decision import Candidate
from gateway.routing.engine import estimate_cost
from gateway.service.accounting import note_prefix, record_usage, usage_cost
from gateway.service.caching import CachePlan, store
from gateway.service.chat import ChatPlan, check_converse, converse_bytes
from gateway.service.context import CallContext, note_debug, note_disconnect
from gateway.service.fallback import note_failure, with_fallback
from gateway.service.limiting import Admission, settle
from gateway.service.replies import SSE_HEADERS, StreamReply
from gateway.service.state import GatewayState
from gateway.translation.prepared import PreparedConversation
from gateway.translation.replay import converse_events
from gateway.translation.sse import SSE_DONE, sse_error, sse_event
from gateway.translation.stream import StreamTranslator

if TYPE_CHECKING:  # the client's module is imported by the app, not by every endpoint
    from gateway.providers.bedrock import ConverseEventStream

DRAIN_S = 1.0
CLIENT_GONE = 499  # the status a stream the client cut is counted and logged with
_PREAMBLE_EVENTS = frozenset({"messageStart"})


class ChunkEncoder(Protocol):
    """How a stream's chat chunks reach the client (chat SSE, or Responses events)."""

    def encode(self, chunks: list[dict[str, Any]]) -> bytes: ...

    async def finish(self, completion: dict[str, Any]) -> bytes: ...

    def fail(self, err: UpstreamError) -> bytes: ...


class ChatSSE:
    """Chat completions: each chunk as an SSE ``data:`` line, then ``[DONE]``."""

    def encode(self, chunks: list[dict[str, Any]]) -> bytes:
        return b"".join(sse_event(chunk) for chunk in chunks)

    async def finish(self, completion: dict[str, Any]) -> bytes:
        return SSE_DONE

    def fail(self, err: UpstreamError) -> bytes:
        return sse_error(err)


class EventSource(Protocol):
    """Where the rest of a stream's events come from (Bedrock's stream, or nothing more)."""

    async def next_batch(self) -> list[tuple[str, dict[str, Any]]]: ...

    async def aclose(self) -> None: ...


class ReplayedStream:
    """The source behind a replayed Converse answer: every event is already buffered."""

    async def next_batch(self) -> list[tuple[str, dict[str, Any]]]:
        return []

    async def aclose(self) -> None:
        return None


def replays_tools(prepared: PreparedConversation, candidate: Candidate) -> bool:
    """True when the request sends tools to a model without tool use while streaming: it is
    served by one Converse call replayed as chunks (ConverseStream would refuse it)."""
    caps = candidate.model.caps
    if caps is None or caps.streaming_tools:
        return False
    forced_json = prepared.json_tool_spec is not None and "tool" in caps.tool_choice
    return prepared.tool_specs is not None or forced_json


@dataclass
class OpenStream:
    """A Bedrock stream that has passed its first content event, and what was read so far."""

    stream: EventSource
    buffered: list[tuple[str, dict[str, Any]]]
    candidate: Candidate
    started: float
    first_event_at: float


async def stream_chat(
    state: GatewayState,
    plan: ChatPlan,
    ctx: CallContext,
    cache_plan: CachePlan,
    admission: Admission,
    encoder: ChunkEncoder | None = None,
) -> StreamReply:

    bedrock = state.require_bedrock()

    async def attempt(candidate: Candidate, timeout: float) -> OpenStream:
        started = time.perf_counter()
        body = converse_bytes(plan, candidate)
        if replays_tools(plan.prepared, candidate):
            answer = await bedrock.converse(candidate.call_id, body, timeout=timeout)
            check_converse(candidate.call_id, answer)
            ctx.upstream_request_id = str(
                (answer.get("ResponseMetadata") or {}).get("RequestId", "")
            )
            events = converse_events(answer)
            return OpenStream(ReplayedStream(), events, candidate, started, time.perf_counter())
        stream = await bedrock.converse_stream(candidate.call_id, body, timeout=timeout)
        ctx.upstream_request_id = stream.headers.get("x-amzn-RequestId", "")
        try:
            buffered = await _read_preamble(stream)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await stream.aclose()
            raise
        return OpenStream(stream, buffered, candidate, started, time.perf_counter())

    try:
        opened = await with_fallback(state, plan.decision, ctx, attempt)
    except BaseException:
        with anyio.CancelScope(shield=True):
            await settle(state, admission, ctx)
        raise
    options = plan.request.stream_options
    model = opened.candidate.model
    translator = StreamTranslator(
        completion_id=plan.completion_id,
        model=ctx.bedrock_id,
        created=plan.created,
        include_usage=bool(options and options.include_usage),
        prepared=plan.prepared,
        cost_of=functools.partial(usage_cost, model),
    )
    return StreamReply(
        _sse_body(
            state, plan, ctx, opened, translator, cache_plan, admission, encoder or ChatSSE()
        ),
        headers=ctx.headers(cost_usd=opened.candidate.est_cost_usd) | SSE_HEADERS,
    )


async def _read_preamble(stream: ConverseEventStream) -> list[tuple[str, dict[str, Any]]]:
    buffered: list[tuple[str, dict[str, Any]]] = []
    async for event_type, payload in stream:
        buffered.append((event_type, payload))
        if event_type not in _PREAMBLE_EVENTS:
            return buffered
    raise UpstreamServerError("Bedrock's stream ended before it sent any content.")


async def _sse_body(
    state: GatewayState,
    plan: ChatPlan,
    ctx: CallContext,
    opened: OpenStream,
    translator: StreamTranslator,
    cache_plan: CachePlan,
    admission: Admission,
    encoder: ChunkEncoder,
) -> AsyncIterator[bytes]:
    model = opened.candidate.model.name
    ttft = opened.first_event_at - opened.started
    ctx.ttft_s = ttft
    state.metrics.ttft.labels(model).observe(ttft)
    deltas: list[Delta] = []
    keep = deltas.extend if cache_plan.key is not None else None
    try:
        call_id = opened.candidate.call_id
        out = _feed(translator, opened.buffered, keep, call_id, encoder)
        while translator.usage is None:  # Bedrock's `metadata` event ends the message
            if out:
                yield out  # one write per network read of Bedrock's stream, not per event
            batch = await opened.stream.next_batch()
            if not batch:
                break
            out = _feed(translator, batch, keep, call_id, encoder)
        if not translator.finished:
            raise UpstreamServerError("Bedrock's stream ended before the message was complete.")
        elapsed = time.perf_counter() - opened.started
        state.stats.record_success(model, latency_ms=elapsed * 1000.0, ttft_ms=ttft * 1000.0)
        state.metrics.upstream_duration.labels(model).observe(elapsed)
        ctx.service_tier = translator.service_tier
        record_usage(
            state, plan.decision, ctx, translator.usage, translator.service_tier, translator.latency
        )
        note_prefix(state, plan.cache_scope, plan.prepared, ctx.model, translator.usage)
        ctx.finish_reason = translator.finish_reason or ""
        completion = translator.to_completion()
        yield out + await encoder.finish(completion)
        await _drain(opened.stream)
        note_debug(ctx, state.settings.log_prompts, plan.request.messages, completion)
        if keep is not None:
            answer = CachedAnswer(completion, deltas, ctx.model, ctx.bedrock_id)
            await store(state, cache_plan, answer)
        if state.shadow is not None:
            state.shadow.after_answer(plan, ctx, completion)
    except UpstreamError as err:
        ctx.status = err.status
        note_failure(state, opened.candidate, err, retryable=err.retryable)
        yield encoder.fail(err)
    except (asyncio.CancelledError, GeneratorExit):  # the client hung up mid-stream
        ctx.status = CLIENT_GONE
        note_disconnect(ctx.request_id, "stream")
        raise
    finally:
        if translator.usage is None:  # cut (client gone, or Bedrock failed): bill what ran
            ctx.cost_usd = partial_cost(plan, opened.candidate, translator.text)
        with anyio.CancelScope(shield=True):
            await opened.stream.aclose()
            await settle(state, admission, ctx)


def partial_cost(plan: ChatPlan, candidate: Candidate, text: str) -> float:
    """The estimated cost of a stream cut before Bedrock reported usage: the prompt, and the
    output sent so far (4 characters a token). Settles the budget's reservation."""
    output_tokens = -(-len(text) // 4)
    return estimate_cost(candidate.model, plan.prepared.prompt_tokens, output_tokens)


async def _drain(stream: EventSource) -> None:
    """Read the end of the body after ``metadata`` so the connection goes back to the pool."""
    with contextlib.suppress(UpstreamError, TimeoutError):
        async with asyncio.timeout(DRAIN_S):
            await stream.next_batch()


#: What the translator raises on an event that is not shaped as Bedrock documents it.
_SHAPE_ERRORS = (KeyError, TypeError, ValueError, AttributeError, IndexError)


def _feed(
    translator: StreamTranslator,
    events: Iterable[tuple[str, dict[str, Any]]],
    keep: Callable[[Iterable[Delta]], None] | None,
    model_id: str,
    encoder: ChunkEncoder,
) -> bytes:
    """The bytes for a batch of Bedrock events; an event of the wrong shape is a 502
    naming the model (the stream then ends with an error event)."""
    try:
        chunks = [chunk for et, payload in events for chunk in translator.feed(et, payload)]
    except _SHAPE_ERRORS as exc:
        raise UpstreamMalformedError(
            f"Bedrock's stream for model {model_id} sent an event that is not a ConverseStream "
            f"event ({type(exc).__name__})."
        ) from None
    if keep is not None:
        keep(
            {"delta": c["choices"][0]["delta"], "finish_reason": c["choices"][0]["finish_reason"]}
            for c in chunks
            if c["choices"]
        )
    return encoder.encode(chunks)


def replay_stream(
    chunks: list[dict[str, Any]],
    ctx: CallContext,
    encoder: ChunkEncoder | None = None,
    completion: dict[str, Any] | None = None,
) -> StreamReply:
    """A cache hit, streamed in the stored chunking."""
    out = encoder or ChatSSE()

    async def body() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield out.encode([chunk])
        yield await out.finish(completion or {})

    return StreamReply(body(), headers=ctx.headers() | SSE_HEADERS)
