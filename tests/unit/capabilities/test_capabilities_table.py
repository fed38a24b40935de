"""The capability table as data: sourced rows, unique ids, dated lifecycles, profile-only
models that resolve to a profile, variant lookup, and the README's generated block."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from gateway.capabilities import MODELS, capabilities_for, invocation_for
from gateway.capabilities.markdown import END, START, main, model_table, replace_block
from gateway.capabilities.model import GEOGRAPHIES, ModelCapabilities
from gateway.capabilities.table_amazon import AMAZON
from gateway.capabilities.table_anthropic import ANTHROPIC
from gateway.capabilities.table_meta_mistral import META_MISTRAL
from gateway.capabilities.table_others import OTHERS

README = Path(__file__).resolve().parents[3] / "README.md"
IDS = [row.base_id for row in MODELS]
US_EAST = "us-east-1"


def test_models_concatenate_the_provider_modules() -> None:
    assert (*ANTHROPIC, *META_MISTRAL, *AMAZON, *OTHERS) == MODELS


def test_base_ids_are_unique() -> None:
    assert len(set(IDS)) == len(IDS)


@pytest.mark.parametrize("row", MODELS, ids=IDS)
def test_row_is_sourced_and_coherent(row: ModelCapabilities) -> None:
    assert row.sources, "every row names the AWS pages it is taken from"
    assert all(src.endswith(".html") for src in row.sources)
    assert row.profiles <= set(GEOGRAPHIES)
    assert row.on_demand_regions or row.profiles, "callable somewhere"
    assert row.context_window > 0
    if row.kind == "chat":
        assert 0 < row.max_output_tokens <= row.context_window
        assert row.converse
    if row.streaming_tools:
        assert row.tools
    if row.tool_choice:
        assert row.tools
    if row.default_output_tokens is not None:
        assert row.default_output_tokens <= row.max_output_tokens


@pytest.mark.parametrize("row", [r for r in MODELS if r.lifecycle == "eol"], ids=str)
def test_end_of_life_rows_have_past_dates(row: ModelCapabilities) -> None:
    assert row.eol_date is not None
    assert date.fromisoformat(row.eol_date) <= date(2026, 12, 2)


@pytest.mark.parametrize("row", [r for r in MODELS if r.legacy_date], ids=str)
def test_legacy_dates_come_before_end_of_life(row: ModelCapabilities) -> None:
    assert row.legacy_date is not None
    if row.eol_date:
        assert date.fromisoformat(row.legacy_date) < date.fromisoformat(row.eol_date)


@pytest.mark.parametrize(
    ("base_id", "family"),
    [
        ("anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-4-5"),
        ("anthropic.claude-haiku-4-5-20251001-v1:0", "claude-4-5"),
        ("anthropic.claude-opus-4-5-20251101-v1:0", "claude-4-5"),
    ],
)
def test_claude_4_5_refuses_temperature_with_top_p(base_id: str, family: str) -> None:
    row = capabilities_for(base_id)
    assert row is not None
    assert (row.family, row.exclusive_sampling) == (family, True)


US_PROFILE_ONLY = [r for r in MODELS if US_EAST not in r.on_demand_regions and "us" in r.profiles]


@pytest.mark.parametrize("row", US_PROFILE_ONLY, ids=[r.base_id for r in US_PROFILE_ONLY])
def test_profile_only_models_resolve_to_a_profile_in_us_east_1(row: ModelCapabilities) -> None:
    call = invocation_for(row.base_id, US_EAST, "geo")
    assert (call.model_id, call.scope) == (f"us.{row.base_id}", "geo")
    refused = invocation_for(row.base_id, US_EAST, "region")
    assert refused.model_id is None
    assert "residency 'region'" in refused.reason


@pytest.mark.parametrize(
    ("model_id", "expected"),
    [
        ("anthropic.claude-3-haiku-20240307-v1:0", "anthropic.claude-3-haiku-20240307-v1:0"),
        ("anthropic.claude-3-haiku-20240307-v1:0:200k", "anthropic.claude-3-haiku-20240307-v1:0"),
        ("anthropic.claude-3-haiku-20240307-v1:0:48k", "anthropic.claude-3-haiku-20240307-v1:0"),
        ("us.anthropic.claude-opus-4-7", "anthropic.claude-opus-4-7"),
        ("global.anthropic.claude-opus-4-6-v1", "anthropic.claude-opus-4-6-v1"),
        ("amazon.titan-embed-text-v2:0", "amazon.titan-embed-text-v2:0"),
        ("amazon.titan-embed-text-v1", "amazon.titan-embed-text-v1"),
        (
            "arn:aws:bedrock:us-east-1::foundation-model/meta.llama3-1-8b-instruct-v1:0",
            "meta.llama3-1-8b-instruct-v1:0",
        ),
        # A different model sharing a prefix is not a variant: it must continue with ":".
        ("anthropic.claude-3-haiku-20240307-v1", None),
        ("anthropic.claude-opus-4-7-preview", None),
        ("amazon.titan-embed-text-v1x", None),
        ("anthropic.claude-sonnet-4-6-v2", None),
        ("arn:aws:bedrock:us-east-1:1:application-inference-profile/abc", None),
    ],
)
def test_lookup_and_variants(model_id: str, expected: str | None) -> None:
    row = capabilities_for(model_id)
    assert (row.base_id if row else None) == expected


def test_readme_model_table_is_current() -> None:
    text = README.read_text(encoding="utf-8")
    assert START in text and END in text
    assert replace_block(text, model_table()) == text, (
        "README's model table is stale: run python -m gateway.capabilities.markdown "
        "--write README.md"
    )


def test_markdown_cli_check_and_write(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(f"# Models\n{START}\nold\n{END}\ntail\n", encoding="utf-8")
    assert main(["--check", str(doc)]) == 1
    assert main(["--write", str(doc)]) == 0
    assert main(["--check", str(doc)]) == 0
    text = doc.read_text(encoding="utf-8")
    assert text.startswith(f"# Models\n{START}\n| id |") and text.endswith(f"{END}\ntail\n")
    assert len(text.splitlines()) == len(MODELS) + 6


def test_markdown_rows_show_what_matters() -> None:
    lines = {line.split(" | ")[0]: line for line in model_table().splitlines()[2:]}
    assert len(lines) == len(MODELS)
    sonnet3 = lines["| `anthropic.claude-3-sonnet-20240229-v1:0`"]
    assert "end of life 2025-07-21" in sonnet3
    titan = lines["| `amazon.titan-text-express-v1`"]
    assert "no system prompt" in titan and "8192 (default 512)" in titan
    haiku45 = lines["| `anthropic.claude-haiku-4-5-20251001-v1:0`"]
    assert "profile only; `au.` `eu.` `global.` `jp.` `us.`" in haiku45
    assert "caching ≥4096 tok, 4 points" in haiku45


def test_replace_block_needs_markers() -> None:
    with pytest.raises(ValueError, match="markers"):
        replace_block("no markers here", "table")
