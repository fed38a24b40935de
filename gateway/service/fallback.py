"""API: the shared call pipeline — try candidates in order, fall back on retryable failures."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from gateway.errors import (
    GatewayError,
    UpstreamError,
    UpstreamThrottledError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from gateway.routing.decision import Candidate, Decision
from gateway.routing.policy import feature_mask
from gateway.service.context import CallContext
from gateway.service.state import GatewayState
from gateway.tracing import mark_error, set_attributes

T = TypeVar("T")
Attempt = Callable[[Candidate, float], Awaitable[T]]


async def with_fallback(
    state: GatewayState, decision: Decision, ctx: CallContext, attempt: Attempt[T]
) -> T:
    """Run ``attempt`` on each candidate in strategy order until one succeeds.

    Only failures the policy marks retryable move on; a validation error is final. A
    model-level refusal (no access, end of life, no on-demand offer, a feature the model
    lacks) benches the model and moves on without using up an attempt. All attempts share
    one deadline (the route's timeout from when the request was routed), and each gets what
    is left of it.
    """
    deadline = time.monotonic() + decision.timeout_s
    if ctx.deadline is not None:
        deadline = min(deadline, ctx.deadline)
    retryable = decision.retry.retryable
    failures: list[UpstreamError] = []
    previous: Candidate | None = None
    tries = 0
    for candidate in decision.candidates:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or tries >= decision.retry.max_attempts:
            break
        if previous is not None:  # a fallback happens only when there is somewhere to go
            state.metrics.fallbacks.labels(
                decision.route, previous.model.name, failures[-1].reason
            ).inc()
        ctx.attempts += 1
        ctx.model = candidate.model.name
        ctx.bedrock_id = candidate.call_id
        try:
            return await _traced(state, candidate, ctx.attempts, attempt, remaining)
        except UpstreamError as err:
            if err.model_level:
                bench_model(state, candidate, err)
            else:
                tries += 1
            will_retry = err.model_level or (err.retryable and err.reason in retryable)
            note_failure(state, candidate, err, retryable=will_retry and not err.model_level)
            if not will_retry:
                raise
            failures.append(err)
            previous = candidate
    raise final_error(failures, decision.timeout_s)


async def _traced(
    state: GatewayState, candidate: Candidate, number: int, attempt: Attempt[T], timeout: float
) -> T:
    """One attempt, in a client span of its own when tracing is on (fallbacks are siblings)."""
    if not state.tracing.enabled:
        return await attempt(candidate, timeout)
    operation = "embeddings" if candidate.model.kind == "embedding" else "chat"
    with state.tracing.attempt_span(
        operation, candidate.call_id, model=candidate.model.name, attempt=number
    ) as span:
        try:
            result = await attempt(candidate, timeout)
        except UpstreamError as err:
            mark_error(span, err.reason, err.message)
            set_attributes(span, {"aws.request_id": err.request_id})
            raise
        if isinstance(result, dict):
            usage = result.get("usage") or {}
            set_attributes(
                span,
                {
                    "gen_ai.response.model": candidate.call_id,
                    "gen_ai.usage.input_tokens": usage.get("inputTokens"),
                    "gen_ai.usage.output_tokens": usage.get("outputTokens"),
                    "gen_ai.response.finish_reasons": (
                        [result["stopReason"]] if result.get("stopReason") else None
                    ),
                },
            )
        return result


#: Bench lengths: a model-level refusal does not heal in seconds (a circuit's cool-down).
BENCH_S = {"model_not_ready": 30.0}
DEFAULT_BENCH_S = 900.0
#: A refused feature -> the routing features a request must need to skip the model.
_FEATURE_BENCH = {
    "tools": ("tools",),
    "streaming_tools": ("tools", "streaming"),
    "images": ("vision",),
}


def bench_model(state: GatewayState, candidate: Candidate, err: UpstreamError) -> None:
    """Bench the model (or the model for the refused feature) and count it."""
    name = candidate.model.name
    features = feature_mask(_FEATURE_BENCH.get(err.refused_feature, ()))
    seconds = BENCH_S.get(err.reason, DEFAULT_BENCH_S)
    what = f"{err.refused_feature} " if err.refused_feature else ""
    reason = f"Bedrock refused {what}{err.reason.replace('_', ' ')} ({err.message[:160]})"
    state.stats.bench.bench(name, reason, seconds=seconds, features=features)
    state.metrics.model_refusals.labels(name, err.reason).inc()


def note_failure(
    state: GatewayState, candidate: Candidate, err: UpstreamError, *, retryable: bool
) -> None:
    """Count a failed attempt in metrics and in the model's health (circuit breaker)."""
    name = candidate.model.name
    state.metrics.upstream_errors.labels(name, err.reason).inc()
    state.stats.record_failure(name, retryable=retryable)


def final_error(failures: Sequence[UpstreamError], timeout_s: float) -> GatewayError:
    """The most meaningful error once every candidate failed."""
    if not failures:
        return UpstreamTimeoutError(
            f"No model answered within the route's {timeout_s:g} s deadline."
        )
    if all(isinstance(f, UpstreamThrottledError) for f in failures):
        waits = [f.retry_after for f in failures if f.retry_after is not None]
        return UpstreamThrottledError(
            f"Every candidate model is throttled ({len(failures)} tried). Retry shortly.",
            retry_after=min(waits) if waits else 1.0,
        )
    if all(f.model_level for f in failures):
        detail = "; ".join(f.message for f in failures)
        return UpstreamUnavailableError(
            f"No candidate model can be called right now ({len(failures)} refused): {detail}",
            retry_after=30.0,
        )
    last = failures[-1]
    if len(failures) == 1:
        return last
    summary = "; ".join(f"{type(f).__name__.removeprefix('Upstream')}" for f in failures)
    err = type(last)(
        f"All {len(failures)} candidate models failed ({summary}). Last: {last.message}"
    )
    err.retry_after = last.retry_after
    return err
