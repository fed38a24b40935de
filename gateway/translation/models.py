"""Translation (pure): model families and per-model quirks detected from a Bedrock model id."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from gateway.capabilities import ModelCapabilities, capabilities_for, split_profile

PROVIDERS = frozenset(
    {
        "anthropic",
        "amazon",
        "meta",
        "mistral",
        "cohere",
        "ai21",
        "deepseek",
        "openai",
        "qwen",
        "writer",
        "stability",
        "twelvelabs",
        "luma",
        "google",
        "minimax",
        "moonshot",
        "moonshotai",
        "nvidia",
    }
)

_CLAUDE = re.compile(
    r"claude-(?:(?P<a>\d+)(?:-(?P<b>\d)(?=-))?-(?P<tier>sonnet|haiku|opus)"
    r"|(?P<tier2>sonnet|haiku|opus)-(?P<c>\d+)(?:-(?P<d>\d)(?=[-:]|$))?)"
)


@dataclass(frozen=True, slots=True)
class ModelTraits:
    """What the translation needs to know about one Bedrock model."""

    family: str  # e.g. "claude-3-5", "claude-4-5", "nova", "llama3-1", "mistral", "unknown"
    forced_tool: bool  # toolChoice {"tool": {...}} is allowed (Claude 3+ and Nova)
    tool_choice: bool  # any toolChoice at all (not for meta.llama3-1-*)
    thinking: bool  # Anthropic extended thinking (Claude 3.7 and 4.x)
    exclusive_sampling: bool  # temperature and topP cannot both be set
    any_choice: bool = True  # toolChoice {"any": {}} is allowed
    system_prompt: bool = True  # Converse ``system`` blocks are allowed (else folded)


def base_model_id(bedrock_id: str) -> str:
    """The base model id: ARN resource part, without a geography prefix (``us.``, ``eu.``, ...)."""
    return split_profile(bedrock_id)[1]


@lru_cache(maxsize=512)
def model_traits(bedrock_id: str) -> ModelTraits:
    """Traits of a model id (cached: ids come from the policy catalogue, a small set): from
    the capability table when it knows the model, else guessed from the id's family."""
    caps = capabilities_for(bedrock_id)
    if caps is not None and caps.kind == "chat":
        return traits_from_capabilities(caps)
    return _guessed_traits(bedrock_id)


def traits_from_capabilities(caps: ModelCapabilities) -> ModelTraits:
    """What AWS documents for the model (``gateway.capabilities``)."""
    choices = caps.tool_choice
    return ModelTraits(
        family=caps.family,
        forced_tool="tool" in choices,
        tool_choice=bool(choices),
        thinking=caps.reasoning is not None,
        exclusive_sampling=caps.exclusive_sampling,
        any_choice="any" in choices,
        system_prompt=caps.system_prompt,
    )


def _guessed_traits(bedrock_id: str) -> ModelTraits:
    model = base_model_id(bedrock_id)
    provider = model.partition(".")[0]
    if provider == "anthropic":
        return _claude_traits(model)
    if model.startswith("amazon.nova"):
        return ModelTraits("nova", True, True, False, False)
    if model.startswith("meta.llama3-1"):
        return ModelTraits("llama3-1", False, False, False, False)
    if provider == "meta":
        return ModelTraits("llama", False, True, False, False)
    if model.startswith("amazon.titan"):
        return ModelTraits("titan", False, True, False, False)
    if provider in PROVIDERS:
        return ModelTraits(provider, False, True, False, False)
    return ModelTraits("unknown", False, True, False, False)


def _claude_traits(model: str) -> ModelTraits:
    match = _CLAUDE.search(model)
    if match is None:  # claude-v2, claude-instant: no forced tool, no thinking
        return ModelTraits("claude-2", False, True, False, False)
    major = int(match["a"] or match["c"])
    minor = int(match["b"] or match["d"] or 0)
    tier = match["tier"] or match["tier2"]
    version = (major, minor)
    family = f"claude-{major}-{minor}" if minor else f"claude-{major}"
    exclusive = version >= (4, 5) or (tier == "opus" and version >= (4, 1))
    return ModelTraits(family, major >= 3, True, version >= (3, 7), exclusive)


def model_family(bedrock_id: str) -> str:
    """The family of a model id, e.g. ``claude-3-5``, ``claude-4-5``, ``nova``, ``llama3-1``."""
    return model_traits(bedrock_id).family
