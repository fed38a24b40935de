"""Capabilities (pure): Amazon Titan and Nova rows, and Titan embeddings.

Converse facts (``features`` page): Titan Text takes no system prompt and no tools
("This model doesn't support system messages"); Nova takes system prompts, tools (also
while streaming), images and documents (Lite, Pro, Premier, Nova 2 Lite; Micro is text
only). Titan Text stops at 512 tokens when ``maxTokens`` is not sent
(``model-parameters-titan-text.html``). Nova caching (``prompt-caching.html``): at least
1,000 tokens per cache point, at most 4 points, in ``system`` and ``messages`` only.
"""

from __future__ import annotations

from gateway.capabilities.model import (
    Lifecycle,
    ModelCapabilities,
    PromptCaching,
    Reasoning,
    ToolChoiceKind,
)
from gateway.capabilities.pages import (
    ALL_TOOL_CHOICES,
    CACHING,
    FEATURES,
    LATENCY,
    LIFECYCLE_LEGACY,
    MODELS_PAGE,
    PROFILES,
    card,
    regions,
)

__all__ = ["AMAZON"]

_TITAN_PARAMS = "model-parameters-titan-text.html"
_NONE: frozenset[str] = frozenset()
_NOVA_CACHE = PromptCaching(min_tokens=1000, max_points=4, fields=("system", "messages"))


def _titan(
    base_id: str,
    name: str,
    *,
    max_output: int,
    context: int,
    on_demand: frozenset[str],
    lifecycle: Lifecycle,
) -> ModelCapabilities:
    """A Titan Text row: no system prompt, no tools, 512-token default output."""
    return ModelCapabilities(
        base_id=base_id,
        name=name,
        provider="amazon",
        family="titan",
        system_prompt=False,
        max_output_tokens=max_output,
        default_output_tokens=512,
        context_window=context,
        on_demand_regions=on_demand,
        lifecycle=lifecycle,
        sources=(FEATURES, MODELS_PAGE, _TITAN_PARAMS, LIFECYCLE_LEGACY),
    )


def _nova(
    base_id: str,
    name: str,
    family: str,
    *,
    multimodal: bool = True,
    max_output: int = 5000,
    context: int = 300000,
    on_demand: frozenset[str] = _NONE,
    profiles: frozenset[str] = frozenset({"us", "eu", "apac"}),
    tool_choice: frozenset[ToolChoiceKind] = ALL_TOOL_CHOICES,
    reasoning: Reasoning | None = None,
    latency_regions: frozenset[str] = _NONE,
    sources: tuple[str, ...] = (),
) -> ModelCapabilities:
    """A Nova row: system prompts, tools also while streaming, caching."""
    return ModelCapabilities(
        base_id=base_id,
        name=name,
        provider="amazon",
        family=family,
        tools=True,
        streaming_tools=True,
        tool_choice=tool_choice,
        images=multimodal,
        documents=multimodal,
        reasoning=reasoning,
        prompt_caching=_NOVA_CACHE,
        latency_optimized_regions=latency_regions,
        max_output_tokens=max_output,
        context_window=context,
        on_demand_regions=on_demand,
        profiles=profiles,
        sources=(
            FEATURES,
            PROFILES,
            MODELS_PAGE,
            CACHING,
            "batch-inference-supported.html",
            *sources,
        ),
    )


def _embedding(
    base_id: str, name: str, *, context: int, lifecycle: Lifecycle = "active"
) -> ModelCapabilities:
    """A Titan embeddings row (InvokeModel only)."""
    return ModelCapabilities(
        base_id=base_id,
        name=name,
        provider="amazon",
        family="titan-embed",
        kind="embedding",
        converse=False,
        converse_stream=False,
        max_output_tokens=0,
        context_window=context,
        on_demand_regions=regions(
            "us-east-1",
            "us-west-2",
            "ca-central-1",
            "eu-central-1",
            "eu-west-2",
            "ap-northeast-1",
            "ap-south-1",
            "ap-southeast-2",
        ),
        lifecycle=lifecycle,
        sources=(MODELS_PAGE, "titan-embedding-models.html", LIFECYCLE_LEGACY),
    )


#: Nova (1) base ids are on demand in us-east-1 and us-gov-west-1 only; every other region
#: goes through a profile (batch-inference-supported.html lists both sets for Nova Lite).
_NOVA_1_ON_DEMAND = regions("us-east-1", "us-gov-west-1")
_TITAN_ON_DEMAND = regions(
    "us-east-1", "us-west-2", "ap-south-1", "ap-southeast-2", "eu-west-1", "eu-west-3"
)  # share-model-support.html

AMAZON: tuple[ModelCapabilities, ...] = (
    # --- Titan Text --------------------------------------------------------------------------
    # Titan Text Express/Lite are Legacy on model-lifecycle-legacy.html; a "Titan" EOL in
    # mid-2026 was reported against that page, but which Titan models it covers could not be
    # confirmed: kept legacy (still callable), to be revisited against the page.
    _titan(
        "amazon.titan-text-express-v1",
        "Titan Text G1 - Express",
        max_output=8192,
        context=8192,
        on_demand=_TITAN_ON_DEMAND,
        lifecycle="legacy",
    ),
    _titan(
        "amazon.titan-text-lite-v1",
        "Titan Text G1 - Lite",
        max_output=4096,
        context=4096,
        on_demand=_TITAN_ON_DEMAND,
        lifecycle="legacy",
    ),
    _titan(
        "amazon.titan-text-premier-v1:0",
        "Titan Text G1 - Premier",
        max_output=3072,
        context=32000,
        on_demand=regions("us-east-1"),
        lifecycle="legacy",
    ),
    # --- Nova (1) ----------------------------------------------------------------------------
    # Micro/Lite/Pro: on demand in us-east-1 (and a few others), profiles elsewhere.
    _nova(
        "amazon.nova-micro-v1:0",
        "Nova Micro",
        "nova",
        multimodal=False,
        context=128000,
        on_demand=_NOVA_1_ON_DEMAND,
    ),
    _nova("amazon.nova-lite-v1:0", "Nova Lite", "nova", on_demand=_NOVA_1_ON_DEMAND),
    _nova(
        "amazon.nova-pro-v1:0",
        "Nova Pro",
        "nova",
        on_demand=_NOVA_1_ON_DEMAND,
        latency_regions=regions("us-east-1", "us-east-2"),  # through the us. profile
        sources=(LATENCY,),
    ),
    # Premier: us. profile only, 1M context; output limit 32K (Nova user guide).
    _nova(
        "amazon.nova-premier-v1:0",
        "Nova Premier",
        "nova",
        max_output=32000,
        context=1000000,
        profiles=frozenset({"us"}),
    ),
    # --- Nova 2 ------------------------------------------------------------------------------
    # Nova 2 Lite (GA): profiles incl. global., 1M context, extended thinking (Nova's own
    # reasoningConfig, not a token budget: no Anthropic-style Reasoning row). Output limit
    # read as 64K in places; 32,000 here, the conservative choice until confirmed.
    _nova(
        "amazon.nova-2-lite-v1:0",
        "Nova 2 Lite",
        "nova-2",
        max_output=32000,
        context=1000000,
        profiles=frozenset({"us", "eu", "jp", "global"}),
        sources=(card("amazon-nova-2-lite"),),
    ),
    # --- Embeddings --------------------------------------------------------------------------
    _embedding("amazon.titan-embed-text-v1", "Titan Embeddings G1 - Text", context=8192),
    _embedding("amazon.titan-embed-text-v2:0", "Titan Text Embeddings V2", context=8192),
)
