"""Model families and quirks detected from Bedrock model ids (prefixes and ARNs stripped)."""

from __future__ import annotations

import pytest

from gateway.translation.models import base_model_id, model_family, model_traits

FAMILIES = [
    ("anthropic.claude-3-haiku-20240307-v1:0", "claude-3", True, True, False, False),
    ("us.anthropic.claude-3-5-sonnet-20241022-v2:0", "claude-3-5", True, True, False, False),
    ("eu.anthropic.claude-3-7-sonnet-20250219-v1:0", "claude-3-7", True, True, True, False),
    ("anthropic.claude-sonnet-4-20250514-v1:0", "claude-4", True, True, True, False),
    ("anthropic.claude-opus-4-20250514-v1:0", "claude-4", True, True, True, False),
    ("us.anthropic.claude-opus-4-1-20250805-v1:0", "claude-4-1", True, True, True, True),
    ("global.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-4-5", True, True, True, True),
    ("apac.anthropic.claude-haiku-4-5-20251001-v1:0", "claude-4-5", True, True, True, True),
    ("anthropic.claude-v2:1", "claude-2", False, True, False, False),
    ("amazon.nova-pro-v1:0", "nova", True, True, False, False),
    ("us.meta.llama3-1-8b-instruct-v1:0", "llama3-1", False, False, False, False),
    ("meta.llama3-70b-instruct-v1:0", "llama3", False, False, False, False),
    ("mistral.mistral-7b-instruct-v0:2", "mistral", False, False, False, False),
    ("amazon.titan-text-express-v1", "titan", False, False, False, False),  # no tool use (table)
    (
        "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0",
        "claude-3",
        True,
        True,
        False,
        False,
    ),
    (
        "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3",
        "unknown",
        False,
        True,
        False,
        False,
    ),
]


@pytest.mark.parametrize(("model", "family", "forced", "choice", "thinking", "exclusive"), FAMILIES)
def test_model_traits(
    model: str, family: str, forced: bool, choice: bool, thinking: bool, exclusive: bool
) -> None:
    traits = model_traits(model)
    assert model_family(model) == family
    assert (traits.forced_tool, traits.tool_choice) == (forced, choice)
    assert (traits.thinking, traits.exclusive_sampling) == (thinking, exclusive)


def test_base_model_id() -> None:
    assert base_model_id("us.amazon.nova-lite-v1:0") == "amazon.nova-lite-v1:0"
    assert base_model_id("amazon.nova-lite-v1:0") == "amazon.nova-lite-v1:0"
    arn = "arn:aws:bedrock:us-east-1:1:inference-profile/eu.meta.llama3-1-8b-instruct-v1:0"
    assert base_model_id(arn) == "meta.llama3-1-8b-instruct-v1:0"
