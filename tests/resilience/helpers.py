"""Resilience: shared helpers — the test policy, OpenAI error checks, pool and task probes."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import orjson

from tests.support.servers import GatewayServer

KEY = "sk-resilience-client-key"
ADMIN_KEY = "sk-resilience-admin-key"
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
MISTRAL = "mistral.mistral-7b-instruct-v0:2"
LLAMA = "meta.llama3-8b-instruct-v1:0"
TITAN = "amazon.titan-embed-text-v2:0"
MARKER = "PROMPT-MARKER-7f3c9e"  # a prompt text that must never leave the request path
ERROR_KEYS = frozenset({"message", "type", "param", "code"})

_POLICY = """\
version: 1
models:
  claude-3-haiku:
    bedrock_id: anthropic.claude-3-haiku-20240307-v1:0
    price: {{input_per_mtok: 0.25, output_per_mtok: 1.25}}
    safety_tier: 3
    context_window: 200000
    features: [tools, vision, streaming]
  llama3-8b:
    bedrock_id: meta.llama3-8b-instruct-v1:0
    price: {{input_per_mtok: 0.3, output_per_mtok: 0.6}}
    context_window: 8000
    features: [streaming]
  mistral-7b:
    bedrock_id: mistral.mistral-7b-instruct-v0:2
    price: {{input_per_mtok: 0.15, output_per_mtok: 0.2}}
    context_window: 32000
    features: [streaming]
  titan-embed-v2:
    bedrock_id: amazon.titan-embed-text-v2:0
    kind: embedding
    price: {{input_per_mtok: 0.02}}
routes:
  haiku: {{strategy: ordered, candidates: [claude-3-haiku]}}
  chain: {{strategy: ordered, candidates: [mistral-7b, llama3-8b, claude-3-haiku]}}
  tools: {{strategy: ordered, candidates: [claude-3-haiku]}}
  embed: {{strategy: ordered, candidates: [titan-embed-v2]}}
defaults:
  route: haiku
  retry: {{max_attempts: 3}}
  timeout_s: {timeout_s}
"""


def write_policy(folder: Path, *, timeout_s: float = 10) -> Path:
    """The resilience policy (small, ordered routes) with the given route deadline."""
    path = folder / "resilience.yaml"
    path.write_text(_POLICY.format(timeout_s=timeout_s))
    return path


def assert_openai_error(
    body: bytes | dict[str, Any], *, status: int | None = None
) -> dict[str, Any]:
    """An OpenAI error body: exactly ``error`` with its four keys, no trace, no prompt."""
    data = orjson.loads(body) if isinstance(body, bytes) else body
    assert isinstance(data, dict) and set(data) == {"error"}, data
    error: dict[str, Any] = data["error"]
    assert set(error) == ERROR_KEYS, error
    assert isinstance(error["message"], str) and error["message"], error
    assert isinstance(error["type"], str) and error["type"], error
    text = orjson.dumps(data).decode()
    assert "Traceback" not in text and 'File "' not in text, text
    assert MARKER not in text, text
    if status is not None and status >= 500:
        assert error["type"] == "server_error", error
    return error


def wait_pool_idle(gateway: GatewayServer, timeout_s: float = 5.0) -> dict[str, int]:
    """Poll the Bedrock pool until no connection is in use; fail with the last stats."""
    deadline = time.monotonic() + timeout_s
    stats: dict[str, int] = gateway.state.bedrock.pool_stats()
    while stats["in_use"] and time.monotonic() < deadline:
        time.sleep(0.02)
        stats = gateway.state.bedrock.pool_stats()
    assert stats["in_use"] == 0, f"connections still in use: {stats}"
    return stats


def gateway_loop(gateway: GatewayServer) -> asyncio.AbstractEventLoop:
    """The event loop uvicorn serves on (from its listening server; no gateway hook needed)."""
    return gateway.server.servers[0].get_loop()


def task_count(gateway: GatewayServer) -> int:
    """Tasks alive on the gateway's loop, counted on that loop itself (thread-safe)."""

    async def count() -> int:
        return len(asyncio.all_tasks())

    future = asyncio.run_coroutine_threadsafe(count(), gateway_loop(gateway))
    return future.result(timeout=5) - 1  # minus the counting task itself


def wait_tasks_at_most(gateway: GatewayServer, limit: int, timeout_s: float = 5.0) -> int:
    deadline = time.monotonic() + timeout_s
    count = task_count(gateway)
    while count > limit and time.monotonic() < deadline:
        time.sleep(0.05)
        count = task_count(gateway)
    return count


def auth_header(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
