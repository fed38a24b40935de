"""Capabilities (pure): what each Bedrock model accepts, as data sourced from AWS's pages.

``table`` holds the rows; ``model`` their types; ``lookup`` finds a row for a model id,
inference-profile id or ARN and picks the id to call in a region under a residency rule.
Routing filters by it, translation shapes requests by it, the emulator enforces it.
"""

from gateway.capabilities.lookup import (
    Invocation,
    capabilities_for,
    geography_of,
    invocation_for,
    split_profile,
)
from gateway.capabilities.model import (
    GEOGRAPHIES,
    Lifecycle,
    ModelCapabilities,
    PromptCaching,
    Reasoning,
    Residency,
)
from gateway.capabilities.table import MODELS

__all__ = [
    "GEOGRAPHIES",
    "MODELS",
    "Invocation",
    "Lifecycle",
    "ModelCapabilities",
    "PromptCaching",
    "Reasoning",
    "Residency",
    "capabilities_for",
    "geography_of",
    "invocation_for",
    "split_profile",
]
