"""Cache (pure): which requests may be cached, and the key an answer is stored under.

The key is SHA-256 over the tenant, the canonical request, what routing made of it (the route
actually chosen after rules, its candidate set, guardrail and safety tier)
and the translated Converse request, so a header rule that sends the same body to a guarded or
higher-tier route never reads the unguarded route's entry, and tenants never share answers.
``KEY_VERSION`` changes whenever the key or the stored format does, so old entries are never read.
"""

from __future__ import annotations

import hashlib
from typing import Literal

import orjson

from gateway.routing.decision import Decision
from gateway.schemas.chat import ChatCompletionRequest
from gateway.translation.prepared import PreparedConversation

KEY_VERSION = "v2"
CacheWhen = Literal["deterministic", "always", "never"]
Directive = Literal["default", "no-cache", "no-store"]

# What makes two requests the same question. Not `stream` or `stream_options`: a streamed
# answer and a plain one are the same answer, replayed in the asked-for shape.
_KEY_FIELDS = frozenset(
    {
        "model",
        "messages",
        "tools",
        "tool_choice",
        "response_format",
        "temperature",
        "top_p",
        "max_tokens",
        "max_completion_tokens",
        "stop",
        "seed",
        "reasoning_effort",
        "functions",
        "function_call",
    }
)


def is_cacheable(req: ChatCompletionRequest, when: CacheWhen) -> bool:
    """``deterministic`` caches only temperature 0 or a fixed seed; sampled answers vary."""
    if when == "never":
        return False
    if when == "always":
        return True
    return req.temperature == 0 or req.seed is not None


def directive(cache_control: str | None) -> Directive:
    """The request's ``Cache-Control``: no-store skips lookup and store, no-cache only lookup."""
    if not cache_control:
        return "default"
    tokens = {part.strip().lower() for part in cache_control.split(",")}
    if "no-store" in tokens:
        return "no-store"
    if "no-cache" in tokens:
        return "no-cache"
    return "default"


def routing_scope(decision: Decision) -> dict[str, object]:
    """What routing decided that shapes the answer: route, every candidate the route had for
    this request (kept or excluded), guardrail and safety tier. Not the required features:
    ``stream`` adds one, and a streamed and a plain request share their answer."""
    guardrail = decision.guardrail
    names = {c.model.name for c in decision.candidates}
    names.update(c.model.name for c in decision.excluded_detail)
    return {
        "route": decision.route,
        "candidates": sorted(names),
        "guardrail": [guardrail.id, guardrail.version] if guardrail else None,
        "tier": decision.required_tier,
    }


def cache_key(
    tenant: str,
    req: ChatCompletionRequest,
    *,
    decision: Decision | None = None,
    prepared: PreparedConversation | None = None,
) -> str:
    """``decision`` and ``prepared`` are given on the serving path; tests of the request part
    alone may leave them out."""
    canonical = req.model_dump(include=set(_KEY_FIELDS), exclude_none=True, mode="json")
    if req.extras:  # route-allowed extra fields (e.g. top_k) change the answer
        canonical["extra_fields"] = req.extras
    digest = hashlib.sha256()
    digest.update(tenant.encode("utf-8"))
    digest.update(b"\x00")
    digest.update(orjson.dumps(canonical, option=orjson.OPT_SORT_KEYS))
    digest.update(b"\x00")
    if decision is not None:
        digest.update(orjson.dumps(routing_scope(decision), option=orjson.OPT_SORT_KEYS))
    digest.update(b"\x00")
    if prepared is not None:
        digest.update(orjson.dumps(prepared._asdict(), option=orjson.OPT_SORT_KEYS))
    return f"{KEY_VERSION}:{digest.hexdigest()}"
