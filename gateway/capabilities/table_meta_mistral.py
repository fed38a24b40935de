"""Capabilities (pure): Meta Llama and Mistral AI rows.

Converse facts (``features`` page): Llama 3.1+ and Mistral Large/Small take tools but not
while streaming ("This model doesn't support tool use in streaming mode"); Llama 3 (v1)
takes no tools; Mistral 7B and Mixtral take neither tools nor system prompts. Forced
``toolChoice``: ``any`` on Mistral Large only; Llama takes no ``toolChoice`` at all. Meta
models stop at 512 tokens when ``maxTokens`` is not sent (``model-parameters-meta.html``:
``max_gen_len`` default 512, maximum 2048); Mistral's text models likewise default to 512
(``model-parameters-mistral-text-completion.html``).
"""

from __future__ import annotations

from gateway.capabilities.model import Lifecycle, ModelCapabilities, ToolChoiceKind
from gateway.capabilities.pages import (
    AUTO_ONLY,
    FEATURES,
    LATENCY,
    LIFECYCLE_LEGACY,
    MODELS_PAGE,
    PROFILES,
    card,
    regions,
)

__all__ = ["META_MISTRAL"]

_META_PARAMS = "model-parameters-meta.html"
_MISTRAL_PARAMS = "model-parameters-mistral-text-completion.html"
_MISTRAL_CHAT = "model-parameters-mistral-chat-completion.html"
_NONE: frozenset[str] = frozenset()
_US = frozenset({"us"})


def _llama(
    base_id: str,
    name: str,
    family: str,
    *,
    tools: bool = True,
    images: bool = False,
    max_output: int = 2048,
    context: int = 128000,
    on_demand: frozenset[str] = _NONE,
    profiles: frozenset[str] = _US,
    lifecycle: Lifecycle = "active",
    eol_date: str | None = None,
    latency_regions: frozenset[str] = _NONE,
    sources: tuple[str, ...] = (),
) -> ModelCapabilities:
    """One Llama row: system prompts yes, tools never while streaming, 512-token default."""
    return ModelCapabilities(
        base_id=base_id,
        name=name,
        provider="meta",
        family=family,
        tools=tools,
        streaming_tools=False,
        # Llama takes no ``toolChoice`` field at all in Converse (Bedrock's ToolChoice
        # reference lists any/tool for Claude, Mistral Large and Nova only).
        tool_choice=frozenset(),
        images=images,
        max_output_tokens=max_output,
        default_output_tokens=512,
        context_window=context,
        on_demand_regions=on_demand,
        profiles=profiles,
        lifecycle=lifecycle,
        eol_date=eol_date,
        latency_optimized_regions=latency_regions,
        sources=(FEATURES, PROFILES, MODELS_PAGE, _META_PARAMS, *sources),
    )


_LLAMA: tuple[ModelCapabilities, ...] = (
    # Llama 3 (v1): on demand, no tools in Converse, 8K context. Legacy on
    # model-lifecycle-legacy.html (no EOL date found: kept legacy, still callable).
    _llama(
        "meta.llama3-8b-instruct-v1:0",
        "Llama 3 8B Instruct",
        "llama3",
        tools=False,
        context=8192,
        on_demand=regions("us-east-1", "us-west-2", "ca-central-1", "eu-west-2", "ap-south-1"),
        profiles=_NONE,
        lifecycle="legacy",
        sources=(LIFECYCLE_LEGACY,),
    ),
    _llama(
        "meta.llama3-70b-instruct-v1:0",
        "Llama 3 70B Instruct",
        "llama3",
        tools=False,
        context=8192,
        on_demand=regions("us-east-1", "us-west-2", "ca-central-1", "eu-west-2", "ap-south-1"),
        profiles=_NONE,
        lifecycle="legacy",
        sources=(LIFECYCLE_LEGACY,),
    ),
    # Llama 3.1: on demand in us-west-2 only; us. profile elsewhere in the US.
    _llama(
        "meta.llama3-1-8b-instruct-v1:0",
        "Llama 3.1 8B Instruct",
        "llama3-1",
        on_demand=regions("us-west-2"),
    ),
    _llama(
        "meta.llama3-1-70b-instruct-v1:0",
        "Llama 3.1 70B Instruct",
        "llama3-1",
        on_demand=regions("us-west-2"),
        latency_regions=regions("us-east-2", "us-west-2"),
        sources=(LATENCY,),
    ),
    # 405B: us-west-2 on demand, no system-defined profile listed.
    _llama(
        "meta.llama3-1-405b-instruct-v1:0",
        "Llama 3.1 405B Instruct",
        "llama3-1",
        on_demand=regions("us-west-2"),
        profiles=_NONE,
        latency_regions=regions("us-east-2"),
        sources=(LATENCY,),
    ),
    # Llama 3.2: profile-only. EOL 2026-07-07, derived from a count of days to EOL
    # published against the lifecycle page; past by December 2026 (conservative: eol).
    _llama(
        "meta.llama3-2-1b-instruct-v1:0",
        "Llama 3.2 1B Instruct",
        "llama3-2",
        profiles=frozenset({"us", "eu"}),
        lifecycle="eol",
        eol_date="2026-07-07",
        sources=(LIFECYCLE_LEGACY,),
    ),
    _llama(
        "meta.llama3-2-3b-instruct-v1:0",
        "Llama 3.2 3B Instruct",
        "llama3-2",
        profiles=frozenset({"us", "eu"}),
        lifecycle="eol",
        eol_date="2026-07-07",
        sources=(LIFECYCLE_LEGACY,),
    ),
    _llama(
        "meta.llama3-2-11b-instruct-v1:0",
        "Llama 3.2 11B Vision Instruct",
        "llama3-2",
        images=True,
        lifecycle="eol",
        eol_date="2026-07-07",
        sources=(LIFECYCLE_LEGACY,),
    ),
    _llama(
        "meta.llama3-2-90b-instruct-v1:0",
        "Llama 3.2 90B Vision Instruct",
        "llama3-2",
        images=True,
        lifecycle="eol",
        eol_date="2026-07-07",
        sources=(LIFECYCLE_LEGACY,),
    ),
    _llama(
        "meta.llama3-3-70b-instruct-v1:0",
        "Llama 3.3 70B Instruct",
        "llama3-3",
        sources=(card("meta-llama-3-3-70b-instruct"),),
    ),
    # Llama 4: profile-only (us.), images. Output limit not stated per model where read:
    # 8,192, the conservative choice; context 128K likewise (Bedrock's smallest figure).
    _llama(
        "meta.llama4-scout-17b-instruct-v1:0",
        "Llama 4 Scout 17B Instruct",
        "llama4",
        images=True,
        max_output=8192,
        sources=(card("meta-llama-4-scout-17b-instruct"),),
    ),
    _llama(
        "meta.llama4-maverick-17b-instruct-v1:0",
        "Llama 4 Maverick 17B Instruct",
        "llama4",
        images=True,
        max_output=8192,
        sources=(card("meta-llama-4-maverick-17b-instruct"),),
    ),
)

#: Bedrock's ToolChoice reference: ``any`` on Mistral Large, never a named ``tool``.
_LARGE_CHOICES: frozenset[ToolChoiceKind] = frozenset({"auto", "any"})

_MISTRAL_ON_DEMAND = regions(
    "us-east-1", "us-west-2", "ca-central-1", "eu-west-1", "eu-west-2", "eu-west-3",
    "ap-south-1", "ap-southeast-2",
)  # fmt: skip


def _mistral(
    base_id: str,
    name: str,
    family: str,
    *,
    system: bool = True,
    tools: bool = True,
    tool_choice: frozenset[ToolChoiceKind] = AUTO_ONLY,
    images: bool = False,
    max_output: int = 8192,
    default_output: int | None = None,
    context: int = 32000,
    on_demand: frozenset[str] = _NONE,
    profiles: frozenset[str] = _NONE,
    lifecycle: Lifecycle = "active",
    sources: tuple[str, ...] = (),
) -> ModelCapabilities:
    """One Mistral row: tools (when any) never while streaming."""
    return ModelCapabilities(
        base_id=base_id,
        name=name,
        provider="mistral",
        family=family,
        system_prompt=system,
        tools=tools,
        streaming_tools=False,
        tool_choice=tool_choice if tools else frozenset(),
        images=images,
        max_output_tokens=max_output,
        default_output_tokens=default_output,
        context_window=context,
        on_demand_regions=on_demand,
        profiles=profiles,
        lifecycle=lifecycle,
        sources=(FEATURES, PROFILES, MODELS_PAGE, *sources),
    )


_MISTRAL: tuple[ModelCapabilities, ...] = (
    _mistral(
        "mistral.mistral-7b-instruct-v0:2",
        "Mistral 7B Instruct",
        "mistral",
        system=False,
        tools=False,
        default_output=512,
        on_demand=_MISTRAL_ON_DEMAND,
        lifecycle="legacy",
        sources=(_MISTRAL_PARAMS, LIFECYCLE_LEGACY),
    ),
    _mistral(
        "mistral.mixtral-8x7b-instruct-v0:1",
        "Mixtral 8x7B Instruct",
        "mixtral",
        system=False,
        tools=False,
        default_output=512,
        on_demand=_MISTRAL_ON_DEMAND,
        lifecycle="legacy",
        sources=(_MISTRAL_PARAMS, LIFECYCLE_LEGACY),
    ),
    _mistral(
        "mistral.mistral-large-2402-v1:0",
        "Mistral Large (24.02)",
        "mistral-large",
        tool_choice=_LARGE_CHOICES,
        on_demand=_MISTRAL_ON_DEMAND,
        lifecycle="legacy",
        sources=(_MISTRAL_CHAT, LIFECYCLE_LEGACY),
    ),
    _mistral(
        "mistral.mistral-large-2407-v1:0",
        "Mistral Large 2 (24.07)",
        "mistral-large",
        tool_choice=_LARGE_CHOICES,
        context=128000,
        on_demand=regions("us-west-2"),
        sources=(_MISTRAL_CHAT,),
    ),
    _mistral(
        "mistral.mistral-small-2402-v1:0",
        "Mistral Small (24.02)",
        "mistral-small",
        on_demand=regions("us-east-1"),
        sources=(_MISTRAL_CHAT,),
    ),
    # Pixtral Large: profile-only (us., eu.), images.
    _mistral(
        "mistral.pixtral-large-2502-v1:0",
        "Pixtral Large (25.02)",
        "pixtral",
        images=True,
        context=128000,
        profiles=frozenset({"us", "eu"}),
        sources=(card("mistral-pixtral-large"),),
    ),
)

META_MISTRAL: tuple[ModelCapabilities, ...] = (*_LLAMA, *_MISTRAL)
