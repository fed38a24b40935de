"""Emulator: strict mode on Bedrock's cost levers (cache points, tiers, latency, documents),
through boto3's real client, which also parses the usage and echo members it answers."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.emulator import rules
from gateway.emulator.runner import RunningEmulator
from tests.support.emulator_strict import client, refusal

SONNET = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
HAIKU3 = "anthropic.claude-3-haiku-20240307-v1:0"
LLAMA70 = "meta.llama3-1-70b-instruct-v1:0"
GPT_OSS = "openai.gpt-oss-20b-1:0"
LLAMA = "meta.llama3-1-8b-instruct-v1:0"
POINT = {"cachePoint": {"type": "default"}}
PDF = b"%PDF-1.4 x"  # boto3 base64-encodes blobs itself
USER = [{"role": "user", "content": [{"text": "hello"}]}]


@pytest.fixture(scope="module")
def west(emulator_server: RunningEmulator) -> Any:
    return client(emulator_server.url, "us-west-2")


def _system(tag: str) -> list[dict[str, Any]]:
    return [{"text": f"{tag} " + "rules " * 1000}, POINT]  # ~1500 tokens, over 1024


def test_second_request_reads_what_the_first_wrote(west: Any) -> None:
    first = west.converse(modelId=SONNET, system=_system("read-1"), messages=USER)["usage"]
    second = west.converse(modelId=SONNET, system=_system("read-1"), messages=USER)["usage"]
    assert first["cacheWriteInputTokens"] > 1024 and first["cacheReadInputTokens"] == 0
    assert second["cacheReadInputTokens"] == first["cacheWriteInputTokens"]
    assert second["cacheWriteInputTokens"] == 0
    total = second["inputTokens"] + second["cacheReadInputTokens"] + second["outputTokens"]
    assert second["totalTokens"] == total


def test_streamed_metadata_has_cache_usage(west: Any) -> None:
    west.converse(modelId=SONNET, system=_system("read-2"), messages=USER)
    events = list(
        west.converse_stream(modelId=SONNET, system=_system("read-2"), messages=USER)["stream"]
    )
    usage = events[-1]["metadata"]["usage"]
    assert usage["cacheReadInputTokens"] > 1024


def test_prefix_under_the_minimum_is_not_cached(west: Any) -> None:
    system = [{"text": "short"}, POINT]
    for _ in range(2):
        usage = west.converse(modelId=SONNET, system=system, messages=USER)["usage"]
        assert "cacheReadInputTokens" not in usage


def _doc(name: str = "a") -> dict[str, Any]:
    return {"document": {"format": "pdf", "name": name, "source": {"bytes": PDF}}}


FIVE_POINTS = [{"text": "a"}, POINT, {"text": "b"}, POINT, {"text": "c"}, POINT, {"text": "d"}]
REFUSED = [
    ("no caching", HAIKU3, {"system": [{"text": "s"}, POINT]}, rules.NO_CACHING),
    (
        "too many points",
        SONNET,
        {
            "system": [*FIVE_POINTS, POINT],
            "messages": [{"role": "user", "content": [{"text": "e"}, POINT]}],
        },
        rules.TOO_MANY_POINTS.format(count=5, limit=4),
    ),
    ("tier", SONNET, {"serviceTier": {"type": "flex"}}, rules.NO_TIER.format(tier="flex")),
    (
        "latency",
        HAIKU3,
        {"performanceConfig": {"latency": "optimized"}},
        rules.NO_LATENCY.format(region="us-west-2"),
    ),
    (
        "document without text",
        HAIKU3,
        {"messages": [{"role": "user", "content": [_doc()]}]},
        rules.DOCUMENT_TEXT.format(path="messages.0.content.0"),
    ),
    (
        "no documents",
        LLAMA,
        {"messages": [{"role": "user", "content": [{"text": "x"}, _doc()]}]},
        rules.NO_BLOCK.format(kind="document"),
    ),
    (
        "six documents",
        HAIKU3,
        {
            "messages": [
                {"role": "user", "content": [{"text": "x"}, *(_doc(f"d{i}") for i in range(6))]}
            ]
        },
        rules.TOO_MANY_DOCUMENTS.format(count=6),
    ),
]


@pytest.mark.parametrize(("name", "model", "body", "message"), REFUSED, ids=[c[0] for c in REFUSED])
def test_levers_the_model_lacks_are_refused(
    west: Any, name: str, model: str, body: dict[str, Any], message: str
) -> None:
    request = {"messages": USER, **body}
    assert refusal(lambda: west.converse(modelId=model, **request)) == (
        400,
        "ValidationException",
        message,
    ), name


def test_offered_tier_and_latency_are_served_and_echoed(west: Any) -> None:
    flex = west.converse(modelId=GPT_OSS, messages=USER, serviceTier={"type": "flex"})
    assert flex["serviceTier"] == {"type": "flex"}
    fast = west.converse(modelId=LLAMA70, messages=USER, performanceConfig={"latency": "optimized"})
    assert fast["performanceConfig"] == {"latency": "optimized"}
