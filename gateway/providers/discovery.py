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
import threading
import time
from typing import Any, Literal
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError

from gateway.errors import DiscoveryError
from gateway.routing.offer import Offer, OfferedModel

__all__ = ["ControlPlane", "DiscoveryMode", "discover", "discovery_applies", "fetch_offer"]

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


class ControlPlane:
    """boto3's ``bedrock`` client for one region, built on first use and kept (building one
    costs about 150 ms of CPU and 20 MB); dropped after a failure, so the next discovery
    resolves credentials and the endpoint anew (a pod may start before its IRSA token)."""

    def __init__(self, region: str, timeout_s: float = 10.0, *, page_size: int | None = None):
        self.region = region
        self.timeout_s = timeout_s
        self._page_size = page_size
        self._client: Any = None
        self._lock = threading.Lock()

    def fetch(self) -> Offer:
        """Both listings (blocking: call it in a thread). Raises ``DiscoveryError``."""
        with self._lock:
            try:
                if self._client is None:
                    self._client = _client(self.region, self.timeout_s)
                models = _models(self._client)
                profiles = _profiles(self._client, self._page_size)
            except (BotoCoreError, ClientError) as exc:
                self._drop()
                raise DiscoveryError(f"{type(exc).__name__}: {str(exc)[:300]}") from None
        on_demand = frozenset(m.model_id for m in models if "ON_DEMAND" in m.inference_types)
        return Offer(self.region, time.time(), on_demand, profiles, models)

    async def discover(self) -> Offer:
        """``fetch`` in a worker thread, given up after about two timeouts."""
        try:
            return await asyncio.wait_for(
                asyncio.to_thread(self.fetch), timeout=2 * self.timeout_s + 1
            )
        except TimeoutError:
            raise DiscoveryError(
                f"no answer from the Bedrock control plane in {self.region}"
            ) from None

    def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def close(self) -> None:
        """Close the client unless a listing still runs in its thread (never waits: it may be
        called on the event loop; the running thread's client is then garbage)."""
        if self._lock.acquire(blocking=False):
            try:
                self._drop()
            finally:
                self._lock.release()


def fetch_offer(region: str, timeout_s: float = 10.0, *, page_size: int | None = None) -> Offer:
    """One-shot ``ControlPlane.fetch`` (the CLI). ``page_size`` bounds each
    ListInferenceProfiles page (AWS's default: up to 1000)."""
    plane = ControlPlane(region, timeout_s, page_size=page_size)
    try:
        return plane.fetch()
    finally:
        plane.close()


async def discover(region: str, timeout_s: float = 10.0) -> Offer:
    """One-shot ``ControlPlane.discover``."""
    plane = ControlPlane(region, timeout_s)
    try:
        return await plane.discover()
    finally:
        plane.close()
