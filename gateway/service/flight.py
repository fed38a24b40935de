"""API: single-flight — identical concurrent cacheable misses make one Bedrock call.

Within a process the callers share one task (``SingleFlight``); across replicas a short Redis
lock elects one caller, and the others wait for its cache entry, bounded by the lock's
lifetime and by their own deadline, before going upstream themselves. Streams do not wait on
each other: a streamed miss calls Bedrock itself (and still fills the cache).
"""

from __future__ import annotations

import time

from gateway.cache.answers import CachedAnswer, decode_answer
from gateway.service.caching import CachePlan, may_answer, store
from gateway.service.chat import ChatPlan, complete_chat
from gateway.service.context import CallContext
from gateway.service.state import GatewayState


async def answer_once(
    state: GatewayState, plan: ChatPlan, ctx: CallContext, cache_plan: CachePlan
) -> tuple[CachedAnswer, bool]:
    """The answer, and True when another request's call produced it (a follower)."""
    key = cache_plan.key
    if key is None or not cache_plan.lookup:
        return await _call_and_store(state, plan, ctx, cache_plan), False

    async def produce() -> tuple[CachedAnswer, bool]:
        lock = state.flight_lock
        ttl = plan.decision.timeout_s
        if lock is not None and not await lock.acquire(key, ttl):
            left = ttl if ctx.deadline is None else ctx.deadline - time.monotonic()
            packed = await lock.wait_for(
                key, lambda: state.cache.get(key), max_wait_s=max(0.0, min(ttl, left))
            )
            answer = may_answer(cache_plan, decode_answer(packed) if packed is not None else None)
            if answer is not None:
                return answer, True
        try:
            return await _call_and_store(state, plan, ctx, cache_plan), False
        finally:
            if lock is not None:
                await lock.release(key)

    (answer, from_other_replica), leader = await state.flight.run(key, produce)
    return answer, from_other_replica or not leader


async def _call_and_store(
    state: GatewayState, plan: ChatPlan, ctx: CallContext, cache_plan: CachePlan
) -> CachedAnswer:

    completion = await complete_chat(state, plan, ctx)
    answer = CachedAnswer(completion, None, ctx.model, ctx.bedrock_id)
    await store(state, cache_plan, answer)
    return answer
