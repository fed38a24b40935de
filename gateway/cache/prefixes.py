"""Cache: the prompt prefixes Bedrock has cached lately, so cost estimates count their reads.

After an answer whose usage shows a cache read or write, the gateway notes (scope, model,
prefix digest) for Bedrock's TTL (5 minutes, restarted by each read). The prefix is the
model-independent stable part of a request: tool definitions and system prompt
(``PreparedConversation.prefix_digest``). The scope is the tenant and the client's
``prompt_cache_key``, so one tenant's estimate never counts a prefix another tenant warmed
(Bedrock's own cache is per AWS account and exact prefix: see the README). In-process: each
replica learns on its own, and a restart forgets (estimates are then as without caching).
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable

TTL_S = 300.0
MAX_ENTRIES = 10_000


def scope_of(tenant: str, prompt_cache_key: str | None) -> str:
    return hashlib.sha256(f"{tenant}\x00{prompt_cache_key or ''}".encode()).hexdigest()[:32]


class PrefixTracker:
    """(scope, model, digest) -> (expected cached tokens, expiry), oldest evicted first."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._entries: OrderedDict[tuple[str, str, str], tuple[int, float]] = OrderedDict()

    def note(self, scope: str, model: str, digest: str, tokens: int) -> None:
        """The model has the prefix cached (it was just read or written)."""
        if tokens <= 0 or not digest:
            return
        key = (scope, model, digest)
        self._entries[key] = (tokens, self._clock() + TTL_S)
        self._entries.move_to_end(key)
        while len(self._entries) > MAX_ENTRIES:
            self._entries.popitem(last=False)

    def warm(self, scope: str, models: Iterable[str], digest: str) -> dict[str, int]:
        """Expected cache-read tokens per model name, for the models holding the prefix."""
        if not digest:
            return {}
        now = self._clock()
        found: dict[str, int] = {}
        for model in models:
            entry = self._entries.get((scope, model, digest))
            if entry is not None and entry[1] > now:
                found[model] = entry[0]
        return found
