"""Emulator: Bedrock prompt caching (cache reads and writes in usage) as AWS describes it.

The prompt is read in the order tools, system, messages; each ``cachePoint`` ends a prefix.
A prefix is cached only when it reaches the model's minimum tokens (shorter: the request
still succeeds, nothing is cached). A request reads the longest of its prefixes that an
earlier request of the same model wrote within the TTL (``5m``, or the point's ``ttl``), which
restarts the TTL; the tokens from there to its last cacheable point are written. Usage then
says ``cacheReadInputTokens``/``cacheWriteInputTokens`` and ``inputTokens`` keeps the rest.
Tokens are the emulator's characters / 4 (``answers.prompt_chars``).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import orjson

from gateway.emulator.answers import block_chars, tool_chars

TTL_S: dict[str, float] = {"5m": 300.0, "1h": 3600.0}


def _ceil_div4(chars: int) -> int:
    return -(-chars // 4)


def _points(body: dict[str, Any]) -> Iterator[tuple[str, int, float]]:
    """(prefix digest, prefix tokens, ttl seconds) at each cache point, in prompt order."""
    digest = hashlib.sha256()
    chars = 0
    sections: list[tuple[str, list[dict[str, Any]]]] = [
        ("tools", list((body.get("toolConfig") or {}).get("tools") or [])),
        ("system", list(body.get("system") or [])),
    ]
    for message in body.get("messages") or []:
        sections.append((message["role"], list(message["content"])))
    for label, blocks in sections:
        digest.update(label.encode())
        for block in blocks:
            point = block.get("cachePoint")
            if point is not None:
                ttl = TTL_S.get(str(point.get("ttl") or "5m"), TTL_S["5m"])
                yield digest.copy().hexdigest(), _ceil_div4(chars), ttl
                continue
            digest.update(orjson.dumps(block, option=orjson.OPT_SORT_KEYS))
            chars += tool_chars(block) if label == "tools" else block_chars(block)


class PromptCache:
    """Written prefixes by model and digest, with their expiry (thread-safe)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._entries: dict[tuple[str, str], tuple[float, float]] = {}  # -> (expiry, ttl)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def apply(self, model: str, body: dict[str, Any], min_tokens: int) -> tuple[int, int]:
        """(tokens read, tokens written) for one request; records what it wrote."""
        points = [p for p in _points(body) if p[1] >= min_tokens]
        if not points:
            return 0, 0
        now = self._clock()
        read = 0
        with self._lock:
            for digest, tokens, _ in points:
                entry = self._entries.get((model, digest))
                if entry is not None and entry[0] > now:
                    read = tokens
                    self._entries[(model, digest)] = (now + entry[1], entry[1])
            written = 0
            for digest, tokens, ttl in points:
                if tokens > read:
                    self._entries[(model, digest)] = (now + ttl, ttl)
                    written = tokens - read
        return read, written


def with_cache(usage: dict[str, int], read: int, written: int) -> dict[str, int]:
    """Usage with the cached part of the prompt moved out of ``inputTokens``."""
    if not read and not written:
        return usage
    out = dict(usage)
    out["inputTokens"] = max(0, usage["inputTokens"] - read - written)
    out["cacheReadInputTokens"] = read
    out["cacheWriteInputTokens"] = written
    out["totalTokens"] = out["inputTokens"] + read + written + usage["outputTokens"]
    return out
