"""Routing (pure): the table ``gateway models`` prints — what a team can route to in a region.

One row per catalogue entry (its bedrock id, the id called from the region under the
policy's default residency, tier, prices, features, lifecycle and status), and with a
discovery, one row per model the region lists that the catalogue does not name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

from gateway.capabilities import capabilities_for, geography_of
from gateway.routing.capability_check import table_feature_mask
from gateway.routing.offer import Offer, OfferedModel
from gateway.routing.policy import RESIDENCIES, ModelSpec, Policy, feature_names

__all__ = ["ModelRow", "catalogue_rows", "discovered_rows", "render_rows", "rows_to_json"]

OK = "ok"
NOT_OFFERED = "not offered"
EOL = "eol"
OUTSIDE_RESIDENCY = "profile outside residency"
NOT_IN_CATALOGUE = "not in catalogue"


@dataclass(frozen=True, slots=True)
class ModelRow:
    """One line of the table; prices are USD per million tokens (None: not priced)."""

    name: str
    source: str  # "catalogue" or "discovered"
    bedrock_id: str
    invoke_id: str | None
    kind: str
    safety_tier: int | None
    input_per_mtok: float | None
    output_per_mtok: float | None
    cache_read_per_mtok: float | None
    cache_write_per_mtok: float | None
    features: tuple[str, ...]
    lifecycle: str
    status: str
    detail: str = ""


def _lifecycle(spec: ModelSpec) -> str:
    caps = spec.caps
    if caps is None:
        return "not in table"
    if caps.eol_date and caps.lifecycle != "active":
        return f"{caps.lifecycle} (eol {caps.eol_date})"
    return caps.lifecycle


def _status(spec: ModelSpec, rank: int, not_offered: Mapping[str, str]) -> tuple[str, str]:
    if spec.unusable:
        return EOL, spec.unusable
    invocation = spec.invocation(rank)
    if invocation.model_id is None:
        kind = OUTSIDE_RESIDENCY if "outside residency" in invocation.reason else NOT_OFFERED
        return kind, invocation.reason
    if spec.name in not_offered:
        return NOT_OFFERED, not_offered[spec.name]
    return OK, ""


def catalogue_rows(policy: Policy, not_offered: Mapping[str, str] | None = None) -> list[ModelRow]:
    """Every catalogue entry, as routed from ``policy.region`` under its default residency."""
    rank = policy.defaults.residency_rank
    rows = []
    for spec in policy.models.values():
        status, detail = _status(spec, rank, not_offered or {})
        rows.append(
            ModelRow(
                name=spec.name,
                source="catalogue",
                bedrock_id=spec.bedrock_id,
                invoke_id=spec.invocation(rank).model_id,
                kind=spec.kind,
                safety_tier=spec.safety_tier,
                input_per_mtok=spec.input_per_mtok,
                output_per_mtok=spec.output_per_mtok if spec.kind == "chat" else None,
                cache_read_per_mtok=spec.cache_read_per_mtok,
                cache_write_per_mtok=spec.cache_write_per_mtok,
                features=tuple(sorted(spec.features)) if spec.kind == "chat" else ("embedding",),
                lifecycle=_lifecycle(spec),
                status=status,
                detail=detail,
            )
        )
    return rows


def _discovered_invoke_id(model: OfferedModel, offer: Offer) -> str | None:
    """The id to call a listed model by from the offer's region: on demand, else a profile."""
    if model.model_id in offer.on_demand:
        return model.model_id
    for geo in (*geography_of(offer.region), "global"):
        if f"{geo}.{model.model_id}" in offer.profiles:
            return f"{geo}.{model.model_id}"
    return None


def discovered_rows(policy: Policy, offer: Offer) -> list[ModelRow]:
    """Models the region lists that no catalogue entry names (by base id or profile), with
    what the capability table knows of them (features, kind, lifecycle)."""
    rows = []
    for model in sorted(offer.models, key=lambda m: m.model_id):
        if policy.model_for_bedrock_id(model.model_id) is not None:
            continue
        caps = capabilities_for(model.model_id)
        features = tuple(feature_names(table_feature_mask(caps))) if caps is not None else ()
        kind = (
            caps.kind
            if caps is not None
            else ("embedding" if "embed" in model.model_id else "chat")
        )
        rows.append(
            ModelRow(
                name=model.name or model.model_id,
                source="discovered",
                bedrock_id=model.model_id,
                invoke_id=_discovered_invoke_id(model, offer),
                kind=kind,
                safety_tier=None,
                input_per_mtok=None,
                output_per_mtok=None,
                cache_read_per_mtok=None,
                cache_write_per_mtok=None,
                features=features if kind == "chat" else ("embedding",),
                lifecycle=model.lifecycle.lower() or "unknown",
                status=NOT_IN_CATALOGUE,
                detail=f"{model.provider}; {'/'.join(model.inference_types) or 'no inference'}",
            )
        )
    return rows


def _price(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def _cells(row: ModelRow) -> list[str]:
    prices = f"{_price(row.input_per_mtok)}/{_price(row.output_per_mtok)}"
    cache = ""
    if row.cache_read_per_mtok is not None or row.cache_write_per_mtok is not None:
        cache = f"{_price(row.cache_read_per_mtok)}/{_price(row.cache_write_per_mtok)}"
    status = row.status
    if row.detail:
        status = row.detail if row.detail.startswith(row.status) else f"{status}: {row.detail}"
    return [
        row.name,
        row.bedrock_id,
        row.invoke_id or "-",
        "-" if row.safety_tier is None else str(row.safety_tier),
        prices,
        cache or "-",
        ",".join(row.features) or "-",
        row.lifecycle,
        status,
    ]


def render_rows(rows: list[ModelRow], region: str, residency_rank: int) -> str:
    """Aligned text columns, one header line saying the region and residency."""
    header = ["model", "bedrock_id", "invoke id", "tier", "$in/out", "$cache r/w"]
    table = [[*header, "features", "lifecycle", "status"], *(_cells(row) for row in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    lines = [f"region {region}, residency {RESIDENCIES[residency_rank]} (prices USD per Mtok)"]
    for line in table:
        cells = zip(line, widths, strict=True)
        lines.append("  ".join(cell.ljust(width) for cell, width in cells).rstrip())
    return "\n".join(lines)


def rows_to_json(rows: list[ModelRow]) -> list[dict[str, object]]:
    return [asdict(row) | {"features": list(row.features)} for row in rows]
