"""Capabilities (pure): the model table, one row per Bedrock base model, as AWS documents it.

The rows live in one module per provider group (``table_anthropic``, ``table_meta_mistral``,
``table_amazon``, ``table_others``); ``MODELS`` concatenates them. Every row names the AWS
Bedrock user-guide pages it is taken from (``sources``, relative to
https://docs.aws.amazon.com/bedrock/latest/userguide/; constants in ``pages``). Keys of the
pages used:

- features:  conversation-inference-supported-models-features.html (system, tools,
             streaming tools, images, documents in Converse)
- profiles:  inference-profiles-support.html, models-supported.html (on demand vs profile)
- lifecycle: model-lifecycle.html, model-lifecycle-legacy.html (models launched before
             2026-09-07)
- caching:   prompt-caching.html
- thinking:  claude-messages-extended-thinking.html
- params:    model-parameters-*.html (output limits, defaults, sampling rules)
- cards:     model-card-<provider>-<model>.html (per-model figures)

Where a page gives no figure, the row takes the conservative choice (no feature, the smaller
limit, profile-only) and says so in a comment.

To add a model: add a row to the provider's module (with its ``sources`` and a comment with
the page URL where a figure is specific), run
``python -m gateway.capabilities.markdown --write README.md`` to regenerate the README's
model table, then add a catalogue entry in a policy (``policies/default.yaml``).
"""

from __future__ import annotations

from gateway.capabilities.model import ModelCapabilities
from gateway.capabilities.table_amazon import AMAZON
from gateway.capabilities.table_anthropic import ANTHROPIC
from gateway.capabilities.table_meta_mistral import META_MISTRAL
from gateway.capabilities.table_others import OTHERS

__all__ = ["MODELS"]

MODELS: tuple[ModelCapabilities, ...] = (*ANTHROPIC, *META_MISTRAL, *AMAZON, *OTHERS)
