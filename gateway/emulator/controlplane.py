"""Emulator: Bedrock control-plane listings for discovery (ListFoundationModels and
ListInferenceProfiles), answered from the model table for the request's region.

The shapes are botocore's ``bedrock`` service model (2023-04-20): ``GET /foundation-models``
with ``byProvider``/``byOutputModality``/``byInferenceType`` filters, and ``GET
/inference-profiles`` with ``type`` (``typeEquals``), ``maxResults`` and ``nextToken``.
Models past end of life are absent; models the account may not use stay listed, as in AWS.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import orjson
from aiohttp import web

from gateway.capabilities.model import ModelCapabilities
from gateway.emulator.errors import EmulatorError, validation_error
from gateway.emulator.rules import ModelTable, geographies_for, is_end_of_life, today_utc
from gateway.emulator.sigv4 import SigV4Verifier
from gateway.emulator.state import EmulatorState

#: The account id in the ARNs of system-defined inference profiles the emulator lists.
ACCOUNT_ID = "000000000000"
MAX_RESULTS = 1000
_GEO_LABELS = {"us": "US", "us-gov": "US-GOV", "eu": "EU", "apac": "APAC", "jp": "JP"}
_GEO_LABELS |= {"au": "AU", "ca": "CA", "global": "Global"}


def _foundation_arn(region: str, base_id: str) -> str:
    return f"arn:aws:bedrock:{region}::foundation-model/{base_id}"


def _lifecycle(caps: ModelCapabilities, today: date) -> str:
    legacy = caps.legacy_date is not None and date.fromisoformat(caps.legacy_date) <= today
    return "LEGACY" if caps.lifecycle == "legacy" or legacy else "ACTIVE"


def _offered(table: ModelTable, region: str, today: date) -> Iterator[ModelCapabilities]:
    """Rows callable from the region (on demand or through a reachable profile)."""
    geos = geographies_for(region)
    for caps in table.rows:
        if is_end_of_life(caps, today):
            continue
        if region in caps.on_demand_regions or any(geo in caps.profiles for geo in geos):
            yield caps


def model_summary(caps: ModelCapabilities, region: str, today: date) -> dict[str, Any]:
    """One FoundationModelSummary as ListFoundationModels answers it."""
    inputs = ["TEXT", "IMAGE"] if caps.images else ["TEXT"]
    on_demand = region in caps.on_demand_regions
    return {
        "modelArn": _foundation_arn(region, caps.base_id),
        "modelId": caps.base_id,
        "modelName": caps.name,
        "providerName": caps.provider.capitalize(),
        "inputModalities": inputs,
        "outputModalities": ["EMBEDDING"] if caps.kind == "embedding" else ["TEXT"],
        "responseStreamingSupported": caps.converse_stream,
        "customizationsSupported": [],
        "inferenceTypesSupported": ["ON_DEMAND"] if on_demand else ["INFERENCE_PROFILE"],
        "modelLifecycle": {"status": _lifecycle(caps, today)},
    }


def profile_summaries(table: ModelTable, region: str, today: date) -> list[dict[str, Any]]:
    """The system-defined inference profiles callable from the region, table order."""
    geos = geographies_for(region)
    summaries = []
    for caps in _offered(table, region, today):
        for geo in geos:
            if geo not in caps.profiles:
                continue
            profile_id = f"{geo}.{caps.base_id}"
            summaries.append(
                {
                    "inferenceProfileName": f"{_GEO_LABELS.get(geo, geo.upper())} {caps.name}",
                    "description": f"Routes requests to {caps.name} in {geo} regions.",
                    "inferenceProfileArn": (
                        f"arn:aws:bedrock:{region}:{ACCOUNT_ID}:inference-profile/{profile_id}"
                    ),
                    "models": [{"modelArn": _foundation_arn(region, caps.base_id)}],
                    "inferenceProfileId": profile_id,
                    "status": "ACTIVE",
                    "type": "SYSTEM_DEFINED",
                }
            )
    return summaries


def _matches(summary: dict[str, Any], query: Any) -> bool:
    provider = query.get("byProvider")
    if provider and summary["providerName"].lower() != provider.lower():
        return False
    modality = query.get("byOutputModality")
    if modality and modality not in summary["outputModalities"]:
        return False
    inference = query.get("byInferenceType")
    return not inference or inference in summary["inferenceTypesSupported"]


def _page(items: list[dict[str, Any]], query: Any) -> tuple[list[dict[str, Any]], str | None]:
    raw_max = query.get("maxResults")
    token = query.get("nextToken")
    if raw_max is not None and not (raw_max.isdigit() and 1 <= int(raw_max) <= MAX_RESULTS):
        raise validation_error(
            f"1 validation error detected: Value '{raw_max}' at 'maxResults' failed to satisfy "
            f"constraint: Member must have value between 1 and {MAX_RESULTS}"
        )
    if token is not None and not (token.isdigit() and int(token) <= len(items)):
        raise validation_error("The pagination token is invalid.")
    start = int(token) if token is not None else 0
    size = int(raw_max) if raw_max is not None else MAX_RESULTS
    end = start + size
    return items[start:end], (str(end) if end < len(items) else None)


def _json(document: Any) -> web.Response:
    return web.Response(body=orjson.dumps(document), content_type="application/json")


class _ControlPlane:
    def __init__(
        self, state: EmulatorState, verifier: SigV4Verifier, table: ModelTable, region: str
    ) -> None:
        self.state = state
        self.verifier = verifier
        self.table = table
        self.region = region

    async def _region(self, request: web.Request) -> str:
        body = await request.read()
        region = self.verifier.verify(request.method, request.raw_path, request.headers, body)
        return region or self.region

    async def foundation_models(self, request: web.Request) -> web.Response:
        try:
            region = await self._region(request)
        except EmulatorError as error:
            return error.to_response()
        today = today_utc()
        summaries = [model_summary(caps, region, today) for caps in self.table.rows]
        offered = {caps.base_id for caps in _offered(self.table, region, today)}
        listed = [s for s in summaries if s["modelId"] in offered and _matches(s, request.query)]
        return _json({"modelSummaries": listed})

    async def inference_profiles(self, request: web.Request) -> web.Response:
        try:
            region = await self._region(request)
            kind = request.query.get("type")
            if kind not in (None, "SYSTEM_DEFINED", "APPLICATION"):
                raise validation_error(
                    f"1 validation error detected: Value '{kind}' at 'typeEquals' failed to "
                    "satisfy constraint: Member must satisfy enum value set: "
                    "[SYSTEM_DEFINED, APPLICATION]"
                )
            profiles = (
                [] if kind == "APPLICATION" else profile_summaries(self.table, region, today_utc())
            )
            page, token = _page(profiles, request.query)
        except EmulatorError as error:
            return error.to_response()
        document: dict[str, Any] = {"inferenceProfileSummaries": page}
        if token is not None:
            document["nextToken"] = token
        return _json(document)


def add_controlplane_routes(
    app: web.Application,
    state: EmulatorState,
    verifier: SigV4Verifier,
    table: ModelTable,
    region: str,
) -> None:
    """Mount the signed control-plane listings (``bedrock`` client's endpoint_url)."""
    plane = _ControlPlane(state, verifier, table, region)
    app.router.add_get("/foundation-models", plane.foundation_models)
    app.router.add_get("/inference-profiles", plane.inference_profiles)
