"""Capabilities (pure): the type of one row of the model table (frozen, read-only)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: Where a request's data may be processed: the configured region only, the region's
#: geography (a ``us.``/``eu.``/... cross-region profile), or anywhere (``global.`` profiles).
Residency = Literal["region", "geo", "global"]
Lifecycle = Literal["active", "legacy", "eol"]
ToolChoiceKind = Literal["auto", "any", "tool"]
#: Bedrock ``serviceTier.type`` values a row may offer besides ``default`` (always offered).
ServiceTier = Literal["flex", "priority"]

#: Prefixes of system-defined cross-region inference profiles, in the order tried.
GEOGRAPHIES: tuple[str, ...] = ("us", "us-gov", "eu", "apac", "jp", "au", "ca", "global")


@dataclass(frozen=True, slots=True)
class PromptCaching:
    """Bedrock prompt caching on this model (``cachePoint`` blocks)."""

    min_tokens: int  # minimum tokens of the prefix before a cache point
    max_points: int  # most cache points one request may carry
    ttls: tuple[str, ...] = ("5m",)
    #: Where a cache point may stand: any of "system", "messages", "tools".
    fields: tuple[str, ...] = ("system", "messages", "tools")


@dataclass(frozen=True, slots=True)
class Reasoning:
    """Extended thinking (Anthropic ``thinking`` in additionalModelRequestFields)."""

    min_budget: int = 1024
    #: Thinking refuses a changed temperature/top_p and a forced tool choice.
    forbids_sampling: bool = True
    forbids_forced_tool: bool = True


@dataclass(frozen=True, slots=True)
class ModelCapabilities:
    """One Bedrock model as AWS documents it. ``base_id`` is the exact base model id.

    ``on_demand_regions``: regions where the base id may be called on demand (in-region).
    ``profiles``: geographies (``GEOGRAPHIES``) with a system-defined inference profile
    ``<geo>.<base_id>``; a profile is callable from a source region of that geography.
    ``default_output_tokens`` is what Bedrock uses when ``maxTokens`` is not sent.
    """

    base_id: str
    name: str
    provider: str
    family: str
    kind: Literal["chat", "embedding"] = "chat"
    converse: bool = True
    converse_stream: bool = True
    system_prompt: bool = True
    tools: bool = False
    streaming_tools: bool = False
    tool_choice: frozenset[ToolChoiceKind] = frozenset()
    images: bool = False
    documents: bool = False
    reasoning: Reasoning | None = None
    prompt_caching: PromptCaching | None = None
    #: Tiers beyond ``default`` (service-tiers-inference.html); empty: default only.
    service_tiers: frozenset[ServiceTier] = frozenset()
    #: Source regions where ``performanceConfig.latency: optimized`` is offered
    #: (latency-optimized-inference.html); empty: standard latency only.
    latency_optimized_regions: frozenset[str] = frozenset()
    max_output_tokens: int = 4096
    default_output_tokens: int | None = None
    context_window: int = 0
    on_demand_regions: frozenset[str] = frozenset()
    profiles: frozenset[str] = frozenset()
    lifecycle: Lifecycle = "active"
    legacy_date: str | None = None  # ISO date Bedrock marks it legacy
    eol_date: str | None = None  # ISO date it stops answering
    exclusive_sampling: bool = False  # refuses temperature together with top_p
    sources: tuple[str, ...] = ()  # AWS user-guide pages the row is taken from

    @property
    def profile_only(self) -> bool:
        """True when no region offers the base id on demand (profiles only)."""
        return not self.on_demand_regions
