"""Capabilities (pure): DeepSeek, OpenAI gpt-oss, Qwen, Cohere, AI21 and Writer rows, and
Cohere embeddings.

Where the ``features`` page does not say a model takes tools while streaming, or forced
``toolChoice``, the row says no (conservative: routing then avoids the combination rather
than meeting a 400). Output limits not stated are the smaller figure found.
"""

from __future__ import annotations

from gateway.capabilities.model import Lifecycle, ModelCapabilities, ServiceTier, ToolChoiceKind
from gateway.capabilities.pages import (
    AUTO_ONLY,
    FEATURES,
    LIFECYCLE_LEGACY,
    MODELS_PAGE,
    PROFILES,
    TIERS,
    card,
    regions,
)

__all__ = ["OTHERS"]

_NONE: frozenset[str] = frozenset()
_FLEX_PRIORITY: frozenset[ServiceTier] = frozenset({"flex", "priority"})
_OPEN_WEIGHT_REGIONS = regions(
    "us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-west-2", "eu-north-1",
    "ap-northeast-1", "ap-south-1", "ap-southeast-2",
)  # fmt: skip


def _chat(
    base_id: str,
    name: str,
    provider: str,
    family: str,
    *,
    tools: bool = True,
    tool_choice: frozenset[ToolChoiceKind] = AUTO_ONLY,
    max_output: int = 4096,
    context: int = 128000,
    on_demand: frozenset[str] = _NONE,
    profiles: frozenset[str] = _NONE,
    lifecycle: Lifecycle = "active",
    service_tiers: frozenset[ServiceTier] = frozenset(),
    sources: tuple[str, ...] = (),
) -> ModelCapabilities:
    """A text chat row: system prompts yes, tools (when any) not while streaming."""
    return ModelCapabilities(
        base_id=base_id,
        name=name,
        provider=provider,
        family=family,
        tools=tools,
        streaming_tools=False,
        tool_choice=tool_choice if tools else frozenset(),
        max_output_tokens=max_output,
        context_window=context,
        on_demand_regions=on_demand,
        profiles=profiles,
        lifecycle=lifecycle,
        service_tiers=service_tiers,
        sources=(FEATURES, PROFILES, MODELS_PAGE, *sources),
    )


def _embedding(base_id: str, name: str, *, context: int, **kw: frozenset[str]) -> ModelCapabilities:
    """A Cohere embeddings row (InvokeModel only)."""
    return ModelCapabilities(
        base_id=base_id,
        name=name,
        provider="cohere",
        family="cohere-embed",
        kind="embedding",
        converse=False,
        converse_stream=False,
        max_output_tokens=0,
        context_window=context,
        on_demand_regions=kw.get("on_demand", _NONE),
        profiles=kw.get("profiles", _NONE),
        sources=(MODELS_PAGE, PROFILES, "model-parameters-embed.html"),
    )


_COHERE_EMBED_V3_REGIONS = regions(
    "us-east-1", "us-west-2", "ca-central-1", "eu-central-1", "eu-west-1", "eu-west-2",
    "eu-west-3", "ap-northeast-1", "ap-south-1", "ap-southeast-1", "ap-southeast-2",
)  # fmt: skip

OTHERS: tuple[ModelCapabilities, ...] = (
    # --- DeepSeek ----------------------------------------------------------------------------
    # R1: us. profile only, no tool use in Converse, reasoning always on (its own, not a
    # thinking budget). Card: 128K context, 8K output, active (EOL no sooner than 2026-03-10).
    # https://docs.aws.amazon.com/bedrock/latest/userguide/model-card-deepseek-deepseek-r1.html
    # DeepSeek V3.2 (card: launched 2025-12-01, 164K context, 8K output) is left out until
    # its Bedrock model id is confirmed.
    _chat(
        "deepseek.r1-v1:0",
        "DeepSeek-R1",
        "deepseek",
        "deepseek-r1",
        tools=False,
        max_output=8192,
        profiles=frozenset({"us"}),
        sources=(card("deepseek-r1"),),
    ),
    _chat(
        "deepseek.v3-v1:0",
        "DeepSeek-V3.1",
        "deepseek",
        "deepseek-v3",
        max_output=8192,
        on_demand=_OPEN_WEIGHT_REGIONS,
        sources=(card("deepseek-v3-1"),),
    ),
    # --- OpenAI open-weight ------------------------------------------------------------------
    _chat(
        "openai.gpt-oss-20b-1:0",
        "gpt-oss-20b",
        "openai",
        "gpt-oss",
        max_output=32768,
        on_demand=_OPEN_WEIGHT_REGIONS,
        service_tiers=_FLEX_PRIORITY,
        sources=(card("openai-gpt-oss-20b"), TIERS),
    ),
    _chat(
        "openai.gpt-oss-120b-1:0",
        "gpt-oss-120b",
        "openai",
        "gpt-oss",
        max_output=32768,
        on_demand=_OPEN_WEIGHT_REGIONS,
        service_tiers=_FLEX_PRIORITY,
        sources=(card("openai-gpt-oss-120b"), TIERS),
    ),
    # --- Qwen --------------------------------------------------------------------------------
    _chat(
        "qwen.qwen3-32b-v1:0",
        "Qwen3 32B",
        "qwen",
        "qwen3",
        max_output=8192,
        context=32768,
        on_demand=_OPEN_WEIGHT_REGIONS,
        sources=(card("qwen-qwen3-32b"),),
    ),
    _chat(
        "qwen.qwen3-235b-a22b-2507-v1:0",
        "Qwen3 235B A22B 2507",
        "qwen",
        "qwen3",
        max_output=8192,
        context=262144,
        on_demand=_OPEN_WEIGHT_REGIONS,
        sources=(card("qwen-qwen3-235b-a22b-2507"),),
    ),
    _chat(
        "qwen.qwen3-coder-30b-a3b-v1:0",
        "Qwen3 Coder 30B A3B",
        "qwen",
        "qwen3-coder",
        max_output=8192,
        context=262144,
        on_demand=_OPEN_WEIGHT_REGIONS,
        sources=(card("qwen-qwen3-coder-30b-a3b"),),
    ),
    _chat(
        "qwen.qwen3-coder-480b-a35b-v1:0",
        "Qwen3 Coder 480B A35B",
        "qwen",
        "qwen3-coder",
        max_output=8192,
        context=262144,
        on_demand=_OPEN_WEIGHT_REGIONS,
        sources=(card("qwen-qwen3-coder-480b-a35b"),),
    ),
    # --- Cohere ------------------------------------------------------------------------------
    # Command R/R+: tools (not while streaming), 4K output, 128K context, on demand in the US.
    _chat(
        "cohere.command-r-v1:0",
        "Command R",
        "cohere",
        "command-r",
        on_demand=regions("us-east-1", "us-west-2"),
        lifecycle="legacy",
        sources=("model-parameters-cohere-command-r-plus.html", LIFECYCLE_LEGACY),
    ),
    _chat(
        "cohere.command-r-plus-v1:0",
        "Command R+",
        "cohere",
        "command-r",
        on_demand=regions("us-east-1", "us-west-2"),
        lifecycle="legacy",
        sources=("model-parameters-cohere-command-r-plus.html", LIFECYCLE_LEGACY),
    ),
    # --- AI21 --------------------------------------------------------------------------------
    # Jamba 1.5: us-east-1 on demand, 256K context, 4K output, tools (not while streaming).
    # https://docs.aws.amazon.com/bedrock/latest/userguide/model-lifecycle.html (region)
    _chat(
        "ai21.jamba-1-5-large-v1:0",
        "Jamba 1.5 Large",
        "ai21",
        "jamba-1-5",
        context=256000,
        on_demand=regions("us-east-1"),
        sources=("model-parameters-jamba.html",),
    ),
    _chat(
        "ai21.jamba-1-5-mini-v1:0",
        "Jamba 1.5 Mini",
        "ai21",
        "jamba-1-5",
        context=256000,
        on_demand=regions("us-east-1"),
        sources=("model-parameters-jamba.html",),
    ),
    # --- Writer ------------------------------------------------------------------------------
    # Palmyra X4 (128K) / X5 (1M): us. profile only.
    _chat(
        "writer.palmyra-x4-v1:0",
        "Palmyra X4",
        "writer",
        "palmyra",
        max_output=8192,
        profiles=frozenset({"us"}),
        sources=("model-parameters-writer-palmyra.html",),
    ),
    _chat(
        "writer.palmyra-x5-v1:0",
        "Palmyra X5",
        "writer",
        "palmyra",
        max_output=8192,
        context=1000000,
        profiles=frozenset({"us"}),
        sources=("model-parameters-writer-palmyra.html",),
    ),
    # --- Cohere embeddings -------------------------------------------------------------------
    # Embed v3: 512-token inputs, on demand widely. Embed v4: 128K inputs; on demand in
    # us-east-1, eu-west-1 and ap-northeast-1, with us./eu./apac. profiles elsewhere.
    _embedding(
        "cohere.embed-english-v3",
        "Embed English v3",
        context=512,
        on_demand=_COHERE_EMBED_V3_REGIONS,
    ),
    _embedding(
        "cohere.embed-multilingual-v3",
        "Embed Multilingual v3",
        context=512,
        on_demand=_COHERE_EMBED_V3_REGIONS,
    ),
    _embedding(
        "cohere.embed-v4:0",
        "Embed v4",
        context=128000,
        on_demand=regions("us-east-1", "eu-west-1", "ap-northeast-1"),
        profiles=frozenset({"us", "eu", "apac"}),
    ),
)
