"""API: the shared call pipeline — try candidates in order, fall back on retryable failures."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from gateway.api.context import CallContext
from gateway.api.state import GatewayState
from gateway.errors import (
    GatewayError,
    UpstreamError,
    UpstreamThrottledError,
    UpstreamTimeoutError,
)
from gateway.routing.decision import Candidate, Decision

T = TypeVar("T")
Attempt = Callable[[Candidate, float], Awaitable[T]]


async def with_fallback(
    state: GatewayState, decision: Decision, ctx: CallContext, attempt: Attempt[T]
) -> T:
    """Run ``attempt`` on each candidate in strategy order until one succeeds.

    Only failures the policy marks retryable move on; a validation error is final. All
    attempts share one deadline (the route's timeout), and each gets what is left of it.
    """
    deadline = time.monotonic() + decision.timeout_s
    retryable = decision.retry.retryable
    failures: list[UpstreamError] = []
    previous: Candidate | None = None
    for candidate in decision.candidates[: decision.retry.max_attempts]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        if previous is not None:  # a fallback happens only when there is somewhere to go
            state.metrics.fallbacks.labels(
                decision.route, previous.model.name, failures[-1].reason
            ).inc()
        ctx.attempts += 1
        ctx.model = candidate.model.name
        ctx.bedrock_id = candidate.model.bedrock_id
        ctx.cost_usd = candidate.est_cost_usd  # the answer's real usage replaces it
        try:
            return await attempt(candidate, remaining)
        except UpstreamError as err:
            will_retry = err.retryable and err.reason in retryable
            note_failure(state, candidate, err, retryable=will_retry)
            if not will_retry:
                raise
            failures.append(err)
            previous = candidate
    raise final_error(failures, decision.timeout_s)


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
    last = failures[-1]
    if len(failures) == 1:
        return last
    summary = "; ".join(f"{type(f).__name__.removeprefix('Upstream')}" for f in failures)
    err = type(last)(
        f"All {len(failures)} candidate models failed ({summary}). Last: {last.message}"
    )
    err.retry_after = last.retry_after
    return err
