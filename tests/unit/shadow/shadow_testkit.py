"""Helpers for the shadow unit tests: a policy, a real ChatPlan, a fake Bedrock client."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

from gateway.routing import LocalStats, Policy, RouteRequest, choose, load_policy_text
from gateway.schemas.parse import parse_chat_request
from gateway.service.chat import ChatPlan
from gateway.translation.openai_to_converse import prepare_conversation

POLICY = """\
version: 1
models:
  haiku:
    bedrock_id: anthropic.claude-3-haiku
    price: {input_per_mtok: 0.25, output_per_mtok: 1.25}
    safety_tier: 3
    context_window: 200000
    features: [tools, streaming]
  nova:
    bedrock_id: amazon.nova-lite
    price: {input_per_mtok: 0.06, output_per_mtok: 0.24}
    safety_tier: 3
    context_window: 300000
    features: [tools, streaming]
  llama:
    bedrock_id: meta.llama3-8b
    price: {input_per_mtok: 0.3, output_per_mtok: 0.6}
    safety_tier: 2
    context_window: 100
  mistral:
    bedrock_id: mistral.mistral-7b
    price: {input_per_mtok: 0.15, output_per_mtok: 0.2}
    context_window: 32000
    max_output_tokens: 100
    features: []
routes:
  r:
    strategy: ordered
    candidates: [haiku]
    shadow: {models: [haiku, nova, llama, mistral], share: 1, max_in_flight: 2}
  budget:
    strategy: ordered
    candidates: [haiku]
    estimated_output_tokens: 10
    shadow: {models: [nova], share: 1, budget_usd_per_day: 0.00001}
  none: {strategy: ordered, candidates: [haiku]}
rules:
  - when: {header: {x-data-class: confidential}}
    require: {safety_tier: 3}
tenants:
  hidden: {shadow: false}
"""


def policy() -> Policy:
    return load_policy_text(POLICY, source="shadow.yaml")


def plan(
    pol: Policy,
    body: dict[str, Any],
    *,
    headers: dict[str, str] | None = None,
    tenant: str = "default",
    opt_out: bool = False,
) -> ChatPlan:
    req = parse_chat_request(body)
    prepared = prepare_conversation(req, images=None, allow_image_urls=False)
    route_request = RouteRequest(
        model=req.model,
        tenant=tenant,
        headers=headers or {},
        needs_tools=prepared.uses_tools,
        stream=bool(req.stream),
        prompt_tokens=prepared.prompt_tokens,
        max_tokens=req.max_completion_tokens or req.max_tokens,
    )
    decision = choose(route_request, pol, LocalStats(), rng=random.Random(0))
    return ChatPlan(req, prepared, decision, "chatcmpl-x", int(time.time()), opt_out)


def converse_answer(text: str, tokens: tuple[int, int] = (10, 5)) -> dict[str, Any]:
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": tokens[0], "outputTokens": tokens[1]},
    }


class FakeBedrock:
    """Answers Converse with a fixed text per model id; ``gate`` holds calls until set."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.gate: asyncio.Event | None = None
        self.replies: dict[str, str] = {}

    async def converse(self, model_id: str, body: bytes, *, timeout: float) -> dict[str, Any]:
        self.calls.append(model_id)
        if self.gate is not None:
            await self.gate.wait()
        return converse_answer(self.replies.get(model_id, "hello"))
