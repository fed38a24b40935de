"""Providers: what the region offers, from Bedrock's control plane (boto3's ``bedrock`` client).

ListFoundationModels and ListInferenceProfiles are called the way the AWS SDKs configure a
client: the default credential chain, the region the gateway calls, and the control-plane
endpoint from ``AWS_ENDPOINT_URL_BEDROCK``, ``AWS_ENDPOINT_URL`` or the profile (boto3 reads
them itself), else AWS's own. boto3 is synchronous: every call runs in a worker thread
(``asyncio.to_thread``), off the event loop and off the hot path, with a timeout.

``discovery_applies`` decides ``GATEWAY_DISCOVERY=auto``: on when Bedrock Runtime is AWS
itself (an ``amazonaws.com``/``amazonaws.com.cn``/``api.aws`` host: the default endpoint,
FIPS, dual-stack, a VPC endpoint), off for any other endpoint (the emulator, a proxy).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Literal
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError

from gateway.errors import DiscoveryError
from gateway.routing.offer import Offer, OfferedModel

__all__ = ["DiscoveryMode", "discover", "discovery_applies", "fetch_offer"]

DiscoveryMode = Literal["auto", "on", "off"]
_AWS_SUFFIXES = (".amazonaws.com", ".amazonaws.com.cn", ".api.aws")


def discovery_applies(mode: DiscoveryMode, runtime_endpoint: str) -> bool:
    """Whether discovery runs: ``on``/``off`` as said; ``auto`` only against AWS's hosts."""
    if mode != "auto":
        return mode == "on"
    host = (urlsplit(runtime_endpoint).hostname or "").lower().rstrip(".")
    return host.endswith(_AWS_SUFFIXES)


def _client(region: str, timeout_s: float) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=timeout_s,
        read_timeout=timeout_s,
        retries={"total_max_attempts": 2, "mode": "standard"},
    )
    return boto3.session.Session().client("bedrock", region_name=region, config=config)


def _models(client: Any) -> tuple[OfferedModel, ...]:
    answer = client.list_foundation_models()
    return tuple(
        OfferedModel(
            model_id=str(summary["modelId"]),
            name=str(summary.get("modelName", "")),
            provider=str(summary.get("providerName", "")),
            inference_types=tuple(summary.get("inferenceTypesSupported") or ()),
            lifecycle=str((summary.get("modelLifecycle") or {}).get("status", "")),
        )
        for summary in answer.get("modelSummaries", ())
    )


def _profiles(client: Any, page_size: int | None) -> frozenset[str]:
    """Ids and ARNs of the ACTIVE profiles, every page (system-defined and application)."""
    found: set[str] = set()
    paging = {"PageSize": page_size} if page_size else {}
    pages = client.get_paginator("list_inference_profiles").paginate(PaginationConfig=paging)
    for page in pages:
        for summary in page.get("inferenceProfileSummaries", ()):
            if summary.get("status", "ACTIVE") != "ACTIVE":
                continue
            found.update(
                str(summary[key])
                for key in ("inferenceProfileId", "inferenceProfileArn")
                if summary.get(key)
            )
    return frozenset(found)


def fetch_offer(region: str, timeout_s: float = 10.0, *, page_size: int | None = None) -> Offer:
    """Both listings for ``region`` (blocking: call it in a thread). Raises ``DiscoveryError``.
    ``page_size`` bounds each ListInferenceProfiles page (AWS's default: up to 1000)."""
    try:
        client = _client(region, timeout_s)
        try:
            models = _models(client)
            profiles = _profiles(client, page_size)
        finally:
            client.close()
    except (BotoCoreError, ClientError) as exc:
        raise DiscoveryError(f"{type(exc).__name__}: {str(exc)[:300]}") from None
    on_demand = frozenset(m.model_id for m in models if "ON_DEMAND" in m.inference_types)
    return Offer(region, time.time(), on_demand, profiles, models)


async def discover(region: str, timeout_s: float = 10.0) -> Offer:
    """``fetch_offer`` in a worker thread, given up after about two timeouts."""
    try:
        return await asyncio.wait_for(
            asyncio.to_thread(fetch_offer, region, timeout_s), timeout=2 * timeout_s + 1
        )
    except TimeoutError:
        raise DiscoveryError(f"no answer from the Bedrock control plane in {region}") from None
