"""API: the record of one model call — who, which route and model, attempts, cache, cost."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import BaseModel

#: The response header that carries Bedrock's request id (to quote to AWS support).
UPSTREAM_REQUEST_ID = "x-gateway-upstream-request-id"


def new_id(prefix: str) -> str:
    """A random id (128 bits, like a uuid4, without building a UUID object per request)."""
    return prefix + os.urandom(16).hex()


def new_request_id() -> str:
    return new_id("req_")


@dataclass
class CallContext:
    """Filled in as a request moves through the pipeline; becomes headers, metrics and a log."""

    request_id: str
    tenant: str = ""
    requested: str = ""  # the body's ``model``, as the client wrote it (even when refused)
    route: str = ""
    strategy: str = ""
    model: str = ""
    bedrock_id: str = ""
    attempts: int = 0
    cache: str = ""  # hit|miss|bypass|off once the cache was consulted
    cost_usd: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    service_tier: str = "default"  # the Bedrock tier that served
    ttft_s: float | None = None
    debug: dict[str, str] | None = None  # prompt and answer, only with GATEWAY_LOG_PROMPTS
    status: int = 200
    upstream_request_id: str = ""  # Bedrock's x-amzn-RequestId of the last attempt
    finish_reason: str = ""  # OpenAI's finish_reason of the answer
    #: ``time.monotonic()`` by which the request must be answered (set once it is routed):
    #: waiting for another replica's answer and every attempt share it.
    deadline: float | None = None
    started: float = field(default_factory=time.perf_counter)

    def headers(self, cost_usd: float | None = None) -> dict[str, str]:
        """The ``x-gateway-*`` headers promised on every model call. The cost is what the call
        cost (0 for one that cost nothing: a cache hit, a refusal, a failure), or ``cost_usd``
        when given (a stream's pre-call estimate: its headers leave before the usage)."""
        cost = self.cost_usd if cost_usd is None else cost_usd
        return {
            "x-request-id": self.request_id,
            "x-gateway-route": self.route,
            "x-gateway-model": self.bedrock_id,
            "x-gateway-cache": self.cache or "off",
            "x-gateway-attempts": str(self.attempts),
            "x-gateway-cost-usd": f"{cost:.8f}",
        } | ({UPSTREAM_REQUEST_ID: self.upstream_request_id} if self.upstream_request_id else {})

    def elapsed(self) -> float:
        return time.perf_counter() - self.started


DEBUG_TEXT_CHARS = 2000


def note_debug(
    ctx: CallContext, enabled: bool, messages: Sequence[BaseModel], completion: Mapping[str, Any]
) -> None:
    """With ``GATEWAY_LOG_PROMPTS`` (a debug setting, off by default) the request's line also
    carries its last message and the answer, truncated. Never keys or credentials."""
    if not enabled:
        return
    last = messages[-1].model_dump(mode="json").get("content")
    prompt = last if isinstance(last, str) else orjson.dumps(last).decode()
    choices = completion.get("choices") or [{}]
    answer = (choices[0].get("message") or {}).get("content") or ""
    ctx.debug = {"prompt": prompt[:DEBUG_TEXT_CHARS], "answer": str(answer)[:DEBUG_TEXT_CHARS]}


_disconnects = logging.getLogger("gateway.errors")


def note_disconnect(request_id: str, when: str) -> None:
    """A client that hung up: one INFO line, no traceback (it is not the gateway's fault)."""
    _disconnects.info("client disconnected during the %s (request %s)", when, request_id)
