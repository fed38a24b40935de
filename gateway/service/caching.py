"""API: the response cache around a chat call — decide, look up, store, and say which."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.cache.answers import CachedAnswer, decode_answer, encode_answer
from gateway.cache.keys import cache_key, directive, is_cacheable
from gateway.routing.decision import Decision
from gateway.schemas.chat import ChatCompletionRequest
from gateway.service.context import CallContext
from gateway.service.state import GatewayState
from gateway.translation.prepared import PreparedConversation


@dataclass(frozen=True)
class CachePlan:
    """``key`` None: nothing to do. ``lookup`` False with a key: store only (no-cache).

    ``allowed`` names the models this request may reach (the route's kept candidates): an
    entry answered by any other model is never returned, whatever its key.
    """

    key: str | None
    lookup: bool
    ttl_s: int
    allowed: frozenset[str] = frozenset()


NO_CACHE = CachePlan(None, False, 0)


def plan_cache(
    state: GatewayState,
    req: ChatCompletionRequest,
    prepared: PreparedConversation,
    decision: Decision,
    ctx: CallContext,
    cache_control: str | None,
) -> CachePlan:
    """Sets ``ctx.cache`` to what the response header will say, before any lookup."""
    if decision.cache.when == "never" or not state.cache.available():
        ctx.cache = "off"
        return NO_CACHE
    wanted = directive(cache_control)
    if wanted == "no-store" or not is_cacheable(req, decision.cache.when):
        ctx.cache = "bypass"
        return NO_CACHE
    key = cache_key(ctx.tenant, req, decision=decision, prepared=prepared)
    allowed = frozenset(c.model.name for c in decision.candidates)
    if wanted == "no-cache":
        ctx.cache = "bypass"
        return CachePlan(key, False, decision.cache.ttl_s, allowed)
    ctx.cache = "miss"
    return CachePlan(key, True, decision.cache.ttl_s, allowed)


def may_answer(plan: CachePlan, answer: CachedAnswer | None) -> CachedAnswer | None:
    """The stored answer, if the model that produced it is one this request may reach."""
    if answer is None or answer.model not in plan.allowed:
        return None
    return answer


async def lookup(state: GatewayState, plan: CachePlan, ctx: CallContext) -> CachedAnswer | None:
    if plan.key is None or not plan.lookup:
        return None
    packed = await state.cache.get(plan.key)
    answer = may_answer(plan, decode_answer(packed) if packed is not None else None)
    if answer is not None:
        ctx.cache = "hit"
    return answer


async def store(state: GatewayState, plan: CachePlan, answer: CachedAnswer) -> None:
    if plan.key is None:
        return
    packed = encode_answer(answer)
    if packed is not None:
        await state.cache.set(plan.key, packed, plan.ttl_s)
