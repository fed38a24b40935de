"""Routing: the ``gateway models`` table — status per catalogue entry, discovered extras,
aligned text and JSON."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gateway.capabilities import MODELS
from gateway.routing.models_table import (
    catalogue_rows,
    discovered_rows,
    render_rows,
    rows_to_json,
)
from gateway.routing.offer import OfferedModel, not_offered
from tests.unit.routing.offer_kit import (
    REGION,
    UNKNOWN_ID,
    full_offer,
    on_demand_row,
    policy,
    profile_id,
)


@pytest.mark.parametrize(
    ("residency", "missing", "name", "status", "invoke_id"),
    [
        ("geo", set(), "a", "ok", on_demand_row().base_id),
        ("geo", set(), "p", "ok", profile_id("geo")),
        ("region", set(), "p", "profile outside residency", None),
        ("geo", {UNKNOWN_ID}, "x", "not offered", UNKNOWN_ID),
        ("geo", set(), "x", "ok", UNKNOWN_ID),
    ],
)
def test_status_per_catalogue_entry(residency, missing, name, status, invoke_id) -> None:
    compiled = policy(residency)
    offer = full_offer()
    offer = replace(offer, on_demand=offer.on_demand - missing)
    rows = {
        r.name: r for r in catalogue_rows(compiled, not_offered(compiled.models, offer, REGION))
    }
    assert rows[name].status == status
    assert rows[name].invoke_id == invoke_id
    assert rows[name].input_per_mtok == 1.0 and rows[name].output_per_mtok == 2.0


def test_end_of_life_entries_say_so() -> None:
    compiled = policy()
    models = dict(compiled.models)
    models["a"] = replace(models["a"], unusable="end of life since 2025-01-01")
    rows = {r.name: r for r in catalogue_rows(replace(compiled, models=models))}
    assert (rows["a"].status, rows["a"].detail) == ("eol", "end of life since 2025-01-01")


def test_discovered_rows_list_only_what_the_catalogue_lacks() -> None:
    compiled = policy()
    listed = (
        OfferedModel(on_demand_row().base_id, "In catalogue", "P", ("ON_DEMAND",), "ACTIVE"),
        OfferedModel("vendor.brand-new-v1", "Brand New", "Vendor", ("ON_DEMAND",), "ACTIVE"),
        OfferedModel(
            "vendor.profile-only-v1", "Profile Only", "V", ("INFERENCE_PROFILE",), "LEGACY"
        ),
    )
    offer = replace(
        full_offer(), models=listed, on_demand=full_offer().on_demand | {"vendor.brand-new-v1"}
    )
    rows = discovered_rows(compiled, offer)
    assert [(r.bedrock_id, r.invoke_id, r.lifecycle, r.status) for r in rows] == [
        ("vendor.brand-new-v1", "vendor.brand-new-v1", "active", "not in catalogue"),
        ("vendor.profile-only-v1", None, "legacy", "not in catalogue"),
    ]


def test_discovered_rows_carry_the_profile_and_what_the_table_knows() -> None:
    compiled = policy()
    catalogued = {spec.bedrock_id for spec in compiled.models.values()}
    row = next(r for r in MODELS if r.kind == "chat" and r.tools and r.base_id not in catalogued)
    listed = (OfferedModel(row.base_id, row.name, row.provider, ("INFERENCE_PROFILE",), "ACTIVE"),)
    offer = replace(
        full_offer(), models=listed, profiles=full_offer().profiles | {f"us.{row.base_id}"}
    )
    (found,) = discovered_rows(compiled, offer)
    assert found.invoke_id == f"us.{row.base_id}"
    assert "tools" in found.features and found.kind == "chat"


def test_text_columns_are_aligned_and_json_carries_every_field() -> None:
    compiled = policy()
    offer = replace(full_offer(), on_demand=full_offer().on_demand - {UNKNOWN_ID})
    rows = catalogue_rows(compiled, not_offered(compiled.models, offer, REGION))
    text = render_rows(rows, REGION, compiled.defaults.residency_rank)
    title, header, *lines = text.splitlines()
    assert title.startswith(f"region {REGION}, residency geo")
    column = header.index("status")
    assert header.index("invoke id") > header.index("bedrock_id")
    for line in lines:
        assert line[column - 2 : column] == "  " and line[column] != " "
    assert any("not offered in us-east-1: vendor.unknown-model-v1" in line for line in lines)
    document = rows_to_json(rows)
    assert {d["name"] for d in document} == set(compiled.models)
    assert set(document[0]) >= {"bedrock_id", "invoke_id", "safety_tier", "features", "status"}
