"""Capabilities (pure): the AWS pages rows cite, and region sets rows share.

Pages are relative to https://docs.aws.amazon.com/bedrock/latest/userguide/.
"""

from __future__ import annotations

from gateway.capabilities.model import ToolChoiceKind

__all__ = [
    "ALL_TOOL_CHOICES",
    "ANTHROPIC_PARAMS",
    "AUTO_ONLY",
    "BASE_URL",
    "CACHING",
    "FEATURES",
    "LATENCY",
    "LIFECYCLE",
    "LIFECYCLE_LEGACY",
    "MODELS_PAGE",
    "PROFILES",
    "THINKING",
    "TIERS",
    "card",
    "regions",
]

BASE_URL = "https://docs.aws.amazon.com/bedrock/latest/userguide/"
FEATURES = "conversation-inference-supported-models-features.html"
PROFILES = "inference-profiles-support.html"
MODELS_PAGE = "models-supported.html"
LIFECYCLE = "model-lifecycle.html"
#: Lifecycle page for models launched before 2026-09-07 (every row here so far).
LIFECYCLE_LEGACY = "model-lifecycle-legacy.html"
CACHING = "prompt-caching.html"
TIERS = "service-tiers-inference.html"  # models offering the flex and priority tiers
LATENCY = "latency-optimized-inference.html"  # performanceConfig latency "optimized"
THINKING = "claude-messages-extended-thinking.html"
ANTHROPIC_PARAMS = "model-parameters-anthropic-claude-messages-request-response.html"

ALL_TOOL_CHOICES: frozenset[ToolChoiceKind] = frozenset({"auto", "any", "tool"})
#: Converse ``toolChoice`` without forcing (``auto`` only): models whose page lists no
#: ``any``/``tool`` support get this, the conservative choice.
AUTO_ONLY: frozenset[ToolChoiceKind] = frozenset({"auto"})


def card(slug: str) -> str:
    """A model card page, e.g. ``card("anthropic-claude-haiku-4-5")``."""
    return f"model-card-{slug}.html"


def regions(*names: str) -> frozenset[str]:
    """A set of region names (reads better in the rows than ``frozenset({...})``)."""
    return frozenset(names)
