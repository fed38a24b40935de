"""Capabilities (pure): Anthropic Claude rows (Converse on Bedrock).

Every Claude model on Bedrock takes system prompts, tools (also while streaming), forced
``toolChoice`` (any/tool), images and documents in Converse (``features`` page). What varies
is where it is offered, its output limit, thinking, caching and lifecycle; those figures
are from the pages each row names. Profile-only models have empty ``on_demand_regions``.
"""

from __future__ import annotations

from gateway.capabilities.model import Lifecycle, ModelCapabilities, PromptCaching, Reasoning
from gateway.capabilities.pages import (
    ALL_TOOL_CHOICES,
    ANTHROPIC_PARAMS,
    CACHING,
    FEATURES,
    LIFECYCLE_LEGACY,
    MODELS_PAGE,
    PROFILES,
    THINKING,
    card,
    regions,
)

__all__ = ["ANTHROPIC"]

_NONE: frozenset[str] = frozenset()
_US_EU_APAC = frozenset({"us", "eu", "apac"})
#: The Claude 4.5+ geographies on inference-profiles-support.html (us/eu/jp/au + global).
_GEO_45 = frozenset({"us", "eu", "jp", "au", "global"})
_TTL_1H = ("5m", "1h")


def _claude(
    base_id: str,
    name: str,
    family: str,
    *,
    max_output: int,
    context: int = 200000,
    on_demand: frozenset[str] = _NONE,
    profiles: frozenset[str] = _US_EU_APAC,
    reasoning: bool = False,
    caching: PromptCaching | None = None,
    lifecycle: Lifecycle = "active",
    legacy_date: str | None = None,
    eol_date: str | None = None,
    exclusive_sampling: bool = False,
    sources: tuple[str, ...] = (),
) -> ModelCapabilities:
    """One Claude row with the features every Claude shares in Converse."""
    return ModelCapabilities(
        base_id=base_id,
        name=name,
        provider="anthropic",
        family=family,
        tools=True,
        streaming_tools=True,
        tool_choice=ALL_TOOL_CHOICES,
        images=True,
        documents=True,
        reasoning=Reasoning() if reasoning else None,
        prompt_caching=caching,
        max_output_tokens=max_output,
        context_window=context,
        on_demand_regions=on_demand,
        profiles=profiles,
        lifecycle=lifecycle,
        legacy_date=legacy_date,
        eol_date=eol_date,
        exclusive_sampling=exclusive_sampling,
        sources=(FEATURES, PROFILES, MODELS_PAGE, *sources),
    )


ANTHROPIC: tuple[ModelCapabilities, ...] = (
    # --- Claude 3 ----------------------------------------------------------------------------
    # model-lifecycle-legacy.html lists Claude 3 Haiku as Legacy (its EOL date not yet set
    # there when read): kept legacy, still callable.
    _claude(
        "anthropic.claude-3-haiku-20240307-v1:0",
        "Claude 3 Haiku",
        "claude-3",
        max_output=4096,
        # On demand where share-model-support.html lists the foundation model.
        on_demand=regions(
            "us-east-1", "us-west-2", "ap-south-1", "ap-southeast-2", "eu-west-1", "eu-west-2"
        ),
        lifecycle="legacy",
        sources=(LIFECYCLE_LEGACY, "share-model-support.html"),
    ),
    # EOL on Bedrock 2025-07-21 (model-lifecycle-legacy.html). The Claude 3 Sonnet, 3 Opus and
    # 3.5 Sonnet dates below were not re-read from the page in this pass: verify them there.
    _claude(
        "anthropic.claude-3-sonnet-20240229-v1:0",
        "Claude 3 Sonnet",
        "claude-3",
        max_output=4096,
        on_demand=regions("us-east-1", "us-west-2", "eu-central-1", "ap-southeast-2"),
        lifecycle="eol",
        legacy_date="2025-01-21",
        eol_date="2025-07-21",
        sources=(LIFECYCLE_LEGACY,),
    ),
    # Claude 3 Opus: us-west-2 on demand, us. profile. EOL 2026-01-15 on Bedrock (to verify);
    # past by now either way, so the row is eol (conservative: never called).
    _claude(
        "anthropic.claude-3-opus-20240229-v1:0",
        "Claude 3 Opus",
        "claude-3",
        max_output=4096,
        on_demand=regions("us-west-2"),
        profiles=frozenset({"us"}),
        lifecycle="eol",
        legacy_date="2025-06-30",
        eol_date="2026-01-15",
        sources=(LIFECYCLE_LEGACY,),
    ),
    # --- Claude 3.5 --------------------------------------------------------------------------
    # Both 3.5 Sonnet versions: Legacy 2025-08-25, EOL 2026-03-01 (model-lifecycle-legacy).
    _claude(
        "anthropic.claude-3-5-sonnet-20240620-v1:0",
        "Claude 3.5 Sonnet",
        "claude-3-5",
        max_output=8192,
        on_demand=regions("us-east-1", "us-west-2", "eu-central-1", "ap-northeast-1"),
        lifecycle="eol",
        legacy_date="2025-08-25",
        eol_date="2026-03-01",
        sources=(LIFECYCLE_LEGACY,),
    ),
    _claude(
        "anthropic.claude-3-5-sonnet-20241022-v2:0",
        "Claude 3.5 Sonnet v2",
        "claude-3-5",
        max_output=8192,
        on_demand=regions("us-west-2"),
        profiles=frozenset({"us", "apac"}),
        lifecycle="eol",
        legacy_date="2025-08-25",
        eol_date="2026-03-01",
        sources=(LIFECYCLE_LEGACY,),
    ),
    # 3.5 Haiku: caching needs 2,048 tokens per point (prompt-caching.html). The EOL date
    # is derived from a count of days to EOL published against the lifecycle page
    # (2026-06-19); treated as past, the conservative choice in December 2026.
    _claude(
        "anthropic.claude-3-5-haiku-20241022-v1:0",
        "Claude 3.5 Haiku",
        "claude-3-5",
        max_output=8192,
        on_demand=regions("us-west-2"),
        profiles=frozenset({"us"}),
        caching=PromptCaching(min_tokens=2048, max_points=4),
        lifecycle="eol",
        eol_date="2026-06-19",
        sources=(CACHING, LIFECYCLE_LEGACY),
    ),
    # --- Claude 3.7 --------------------------------------------------------------------------
    # Profile-only; EOL on Bedrock 2026-04-28 (model-lifecycle-legacy.html; its 404/validation
    # refusals from that day were reported publicly too).
    _claude(
        "anthropic.claude-3-7-sonnet-20250219-v1:0",
        "Claude 3.7 Sonnet",
        "claude-3-7",
        max_output=64000,
        reasoning=True,
        caching=PromptCaching(min_tokens=1024, max_points=4),
        lifecycle="eol",
        eol_date="2026-04-28",
        sources=(CACHING, THINKING, LIFECYCLE_LEGACY),
    ),
    # --- Claude 4 ----------------------------------------------------------------------------
    _claude(
        "anthropic.claude-sonnet-4-20250514-v1:0",
        "Claude Sonnet 4",
        "claude-4",
        max_output=64000,
        profiles=frozenset({"us", "eu", "apac", "global"}),
        reasoning=True,
        caching=PromptCaching(min_tokens=1024, max_points=4),
        lifecycle="legacy",
        sources=(CACHING, THINKING, LIFECYCLE_LEGACY, card("anthropic-claude-sonnet-4")),
    ),
    # Opus 4: us. profile only; EOL 2026-05-31, derived like 3.5 Haiku's above.
    _claude(
        "anthropic.claude-opus-4-20250514-v1:0",
        "Claude Opus 4",
        "claude-4",
        max_output=32000,
        profiles=frozenset({"us"}),
        reasoning=True,
        caching=PromptCaching(min_tokens=1024, max_points=4),
        lifecycle="eol",
        eol_date="2026-05-31",
        sources=(CACHING, THINKING, LIFECYCLE_LEGACY),
    ),
    _claude(
        "anthropic.claude-opus-4-1-20250805-v1:0",
        "Claude Opus 4.1",
        "claude-4-1",
        max_output=32000,
        profiles=frozenset({"us"}),
        reasoning=True,
        caching=PromptCaching(min_tokens=1024, max_points=4),
        lifecycle="legacy",
        # Opus 4.1 is the first to refuse temperature with top_p (ANTHROPIC_PARAMS page).
        exclusive_sampling=True,
        sources=(
            CACHING,
            THINKING,
            ANTHROPIC_PARAMS,
            LIFECYCLE_LEGACY,
            card("anthropic-claude-opus-4-1"),
        ),
    ),
    # --- Claude 4.5 (refuse temperature together with top_p: ANTHROPIC_PARAMS page) ----------
    _claude(
        "anthropic.claude-sonnet-4-5-20250929-v1:0",
        "Claude Sonnet 4.5",
        "claude-4-5",
        max_output=64000,
        profiles=_GEO_45,
        reasoning=True,
        caching=PromptCaching(min_tokens=1024, max_points=4, ttls=_TTL_1H),
        exclusive_sampling=True,
        sources=(CACHING, THINKING, ANTHROPIC_PARAMS, card("anthropic-claude-sonnet-4-5")),
    ),
    # Haiku 4.5 card: 200K context, 64K output, caching 4,096 tokens/point, 4 points, 5m/1h.
    # https://docs.aws.amazon.com/bedrock/latest/userguide/model-card-anthropic-claude-haiku-4-5.html
    _claude(
        "anthropic.claude-haiku-4-5-20251001-v1:0",
        "Claude Haiku 4.5",
        "claude-4-5",
        max_output=64000,
        profiles=_GEO_45,
        reasoning=True,
        caching=PromptCaching(min_tokens=4096, max_points=4, ttls=_TTL_1H),
        exclusive_sampling=True,
        sources=(CACHING, THINKING, ANTHROPIC_PARAMS, card("anthropic-claude-haiku-4-5")),
    ),
    _claude(
        "anthropic.claude-opus-4-5-20251101-v1:0",
        "Claude Opus 4.5",
        "claude-4-5",
        max_output=64000,
        profiles=frozenset({"us", "eu", "global"}),
        reasoning=True,
        caching=PromptCaching(min_tokens=4096, max_points=4, ttls=_TTL_1H),
        exclusive_sampling=True,
        sources=(CACHING, THINKING, ANTHROPIC_PARAMS, card("anthropic-claude-opus-4-5")),
    ),
    # --- Claude 4.6 / 4.7 --------------------------------------------------------------------
    # Opus 4.6 card: launched 2026-02-05, 1M context, 128K output, reasoning, active.
    # https://docs.aws.amazon.com/bedrock/latest/userguide/model-card-anthropic-claude-opus-4-6.html
    # Caching minimum not confirmed for 4.6/4.7: 4,096 (Opus 4.5's), the conservative choice.
    _claude(
        "anthropic.claude-opus-4-6-v1",
        "Claude Opus 4.6",
        "claude-4-6",
        max_output=128000,
        context=1000000,
        profiles=_GEO_45,
        reasoning=True,
        caching=PromptCaching(min_tokens=4096, max_points=4, ttls=_TTL_1H),
        exclusive_sampling=True,
        sources=(CACHING, THINKING, ANTHROPIC_PARAMS, card("anthropic-claude-opus-4-6")),
    ),
    # Sonnet 4.6: sources disagree on 64K vs 128K output; 64K, the conservative choice.
    _claude(
        "anthropic.claude-sonnet-4-6",
        "Claude Sonnet 4.6",
        "claude-4-6",
        max_output=64000,
        context=1000000,
        profiles=_GEO_45,
        reasoning=True,
        caching=PromptCaching(min_tokens=4096, max_points=4, ttls=_TTL_1H),
        exclusive_sampling=True,
        sources=(CACHING, THINKING, ANTHROPIC_PARAMS, card("anthropic-claude-sonnet-4-6")),
    ),
    # Opus 4.7 card: launched 2026-04-16, 1M context, 128K output; thinking is
    # ``adaptive`` only (a budget_tokens request is a 400), so no budget-style Reasoning.
    # https://docs.aws.amazon.com/bedrock/latest/userguide/model-card-anthropic-claude-opus-4-7.html
    _claude(
        "anthropic.claude-opus-4-7",
        "Claude Opus 4.7",
        "claude-4-7",
        max_output=128000,
        context=1000000,
        profiles=_GEO_45,
        caching=PromptCaching(min_tokens=4096, max_points=4, ttls=_TTL_1H),
        exclusive_sampling=True,
        sources=(CACHING, ANTHROPIC_PARAMS, card("anthropic-claude-opus-4-7")),
    ),
)
