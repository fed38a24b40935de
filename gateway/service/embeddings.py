"""Service: embeddings — route, then InvokeModel on Titan (one call per input, side by side)
or Cohere (batches), with fallback, limits and accounting."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import Any

from gateway.errors import UpstreamMalformedError
from gateway.jsonbytes import json_bytes
from gateway.providers.bedrock import BedrockClient
from gateway.routing.decision import Candidate, RouteRequest
from gateway.routing.engine import choose
from gateway.schemas.embeddings import EmbeddingRequest
from gateway.service.accounting import record_usage
from gateway.service.context import CallContext
from gateway.service.fallback import with_fallback
from gateway.service.limiting import admit, cost_bound, settle
from gateway.service.replies import JsonReply
from gateway.service.state import GatewayState
from gateway.translation.embeddings import (
    cohere_bodies,
    cohere_problem,
    embedding_family,
    embedding_response,
    estimate_tokens,
    parse_cohere,
    parse_titan,
    titan_body,
    titan_problem,
)

CONCURRENT_CALLS = 16  # Titan takes one text per call: run them side by side, bounded
Vectors = list[list[float]]


async def answer_embeddings(
    state: GatewayState, ctx: CallContext, req: EmbeddingRequest, headers: Mapping[str, str]
) -> JsonReply:
    """The OpenAI embeddings body for a parsed request (the caller already checked)."""
    texts = [req.input] if isinstance(req.input, str) else [str(t) for t in req.input]
    estimated = estimate_tokens(texts)
    decision = choose(
        RouteRequest(
            model=req.model,
            tenant=ctx.tenant,
            headers=headers,
            needs_tools=False,
            needs_images=False,
            stream=False,
            prompt_tokens=estimated,
            max_tokens=None,
            kind="embedding",
        ),
        state.policy,
        state.stats,
        rng=state.rng,
    )
    ctx.route, ctx.strategy = decision.route, decision.strategy
    admission = await admit(state, ctx, estimated, cost_bound(decision, estimated, 0))
    state.metrics.routing_decisions.labels(
        ctx.route, decision.candidates[0].model.name, ctx.strategy
    ).inc()
    bedrock = state.require_bedrock()

    async def attempt(candidate: Candidate, timeout: float) -> tuple[Vectors, int]:
        started = time.perf_counter()
        request_ids: list[str] = []
        result = await _embed(
            bedrock, candidate.call_id, texts, req.dimensions, timeout, request_ids
        )
        ctx.upstream_request_id = request_ids[-1] if request_ids else ""
        elapsed = time.perf_counter() - started
        state.stats.record_success(candidate.model.name, latency_ms=elapsed * 1000.0)
        state.metrics.upstream_duration.labels(candidate.model.name).observe(elapsed)
        return result

    try:
        vectors, tokens = await with_fallback(state, decision, ctx, attempt)
        record_usage(state, decision, ctx, {"prompt_tokens": tokens, "completion_tokens": 0})
    finally:
        await settle(state, admission, ctx)
    body = embedding_response(
        vectors,
        model=ctx.bedrock_id,
        prompt_tokens=tokens,
        encoding_format=req.encoding_format or "float",
    )
    return JsonReply(json_bytes(body), ctx.headers())


async def _embed(
    bedrock: BedrockClient,
    model_id: str,
    texts: Sequence[str],
    dimensions: int | None,
    timeout: float,
    request_ids: list[str],
) -> tuple[Vectors, int]:
    """The vectors and input tokens; ``request_ids`` gains Bedrock's id of each call made."""
    if embedding_family(model_id) == "cohere-v3":
        return await _embed_cohere(bedrock, model_id, texts, dimensions, timeout, request_ids)
    return await _embed_titan(bedrock, model_id, texts, dimensions, timeout, request_ids)


async def _embed_titan(
    bedrock: BedrockClient,
    model_id: str,
    texts: Sequence[str],
    dimensions: int | None,
    timeout: float,
    request_ids: list[str],
) -> tuple[Vectors, int]:
    limit = asyncio.Semaphore(CONCURRENT_CALLS)
    family = embedding_family(model_id)
    bodies = [json_bytes(titan_body(text, dimensions=dimensions, family=family)) for text in texts]

    async def one(body: bytes) -> tuple[list[float], int]:
        async with limit:
            result = await bedrock.invoke_model(model_id, body, timeout=timeout)
        request_ids.append(result.headers.get("x-amzn-RequestId", ""))
        _check(model_id, titan_problem(result.body))
        return parse_titan(result.body)

    results = await asyncio.gather(*(one(b) for b in bodies))
    return [vector for vector, _ in results], sum(tokens for _, tokens in results)


async def _embed_cohere(
    bedrock: BedrockClient,
    model_id: str,
    texts: Sequence[str],
    dimensions: int | None,
    timeout: float,
    request_ids: list[str],
) -> tuple[Vectors, int]:
    async def one(body: dict[str, Any]) -> tuple[Vectors, int]:
        result = await bedrock.invoke_model(model_id, json_bytes(body), timeout=timeout)
        request_ids.append(result.headers.get("x-amzn-RequestId", ""))
        _check(model_id, cohere_problem(result.body))
        header = result.headers.get("x-amzn-bedrock-input-token-count", "")
        batch = body.get("texts", [])
        tokens = int(header) if header.isdigit() else estimate_tokens(batch)
        return parse_cohere(result.body), tokens

    bodies = cohere_bodies(texts, dimensions=dimensions)  # refuses other than 1024 dimensions
    results = await asyncio.gather(*(one(b) for b in bodies))
    return [v for vectors, _ in results for v in vectors], sum(t for _, t in results)


def _check(model_id: str, problem: str | None) -> None:
    """A 200 that is not an embedding answer is a 502 naming the model (never a 500)."""
    if problem is not None:
        raise UpstreamMalformedError(
            f"Bedrock answered model {model_id} with a body that is not an embedding "
            f"response: {problem}."
        )
