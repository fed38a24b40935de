"""The emulator's prompt cache: reads, writes, minimum tokens and TTL, as Bedrock documents."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.emulator.prompt_cache import PromptCache, with_cache

POINT = {"cachePoint": {"type": "default"}}
SYSTEM = "s" * 4000  # 1000 tokens (characters / 4)


def _body(*user_turns: str, system: str = SYSTEM, ttl: str | None = None) -> dict[str, Any]:
    point = {"cachePoint": {"type": "default", "ttl": ttl}} if ttl else POINT
    messages: list[dict[str, Any]] = []
    for i, text in enumerate(user_turns):
        if i:
            messages.append({"role": "assistant", "content": [{"text": "ok"}]})
        messages.append({"role": "user", "content": [{"text": text}]})
    return {"system": [{"text": system}, point], "messages": messages}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


# (name, min tokens, [(seconds since the previous step, body, expected (read, written))])
CASES = [
    (
        "first writes, second reads",
        1000,
        [(0, _body("a"), (0, 1000)), (10, _body("b"), (1000, 0))],
    ),
    ("prefix under the minimum is not cached", 1024, [(0, _body("a"), (0, 0))] * 2),
    (
        "expired after five minutes",
        1000,
        [(0, _body("a"), (0, 1000)), (301, _body("a"), (0, 1000))],
    ),
    (
        "a read restarts the TTL",
        1000,
        [(0, _body("a"), (0, 1000)), (200, _body("a"), (1000, 0)), (250, _body("a"), (1000, 0))],
    ),
    (
        "one hour TTL",
        1000,
        [(0, _body("a", ttl="1h"), (0, 1000)), (3000, _body("a", ttl="1h"), (1000, 0))],
    ),
    (
        "another prefix misses",
        1000,
        [(0, _body("a"), (0, 1000)), (1, _body("a", system="t" * 4000), (0, 1000))],
    ),
]


@pytest.mark.parametrize(("name", "minimum", "steps"), CASES, ids=[c[0] for c in CASES])
def test_prompt_cache(name: str, minimum: int, steps: list[Any]) -> None:
    clock = Clock()
    cache = PromptCache(clock)
    for later, body, expected in steps:
        clock.now += later
        assert cache.apply("m", body, minimum) == expected, name


def test_growing_conversation_reads_previous_turn() -> None:
    """Points after each of the last two user turns: the next turn reads what this wrote."""
    cache = PromptCache(Clock())
    first = _body("q" * 4000)
    first["messages"][-1]["content"].append(POINT)
    assert cache.apply("m", first, 1000) == (0, 2000)
    second = _body("q" * 4000, "r" * 400)
    second["messages"][0]["content"].append(POINT)
    second["messages"][-1]["content"].append(POINT)
    read, written = cache.apply("m", second, 1000)
    assert read == 2000  # everything up to the previous user turn
    assert written == 1 + 100  # the assistant's "ok" and the new turn


def test_models_do_not_share() -> None:
    cache = PromptCache(Clock())
    assert cache.apply("a", _body("x"), 1000) == (0, 1000)
    assert cache.apply("b", _body("x"), 1000) == (0, 1000)


def test_with_cache_moves_tokens_out_of_input() -> None:
    usage = {"inputTokens": 1100, "outputTokens": 5, "totalTokens": 1105}
    out = with_cache(usage, 1000, 0)
    assert out == {
        "inputTokens": 100,
        "outputTokens": 5,
        "totalTokens": 1105,
        "cacheReadInputTokens": 1000,
        "cacheWriteInputTokens": 0,
    }
    assert with_cache(usage, 0, 0) is usage
