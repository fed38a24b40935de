"""API: the per-app state that ``create_app`` builds and every router reads from ``app.state``."""

from __future__ import annotations

import random
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gateway.cache.prefixes import PrefixTracker
from gateway.cache.singleflight import SingleFlight
from gateway.config import Settings
from gateway.metrics import Metrics
from gateway.routing.decision import Decision
from gateway.routing.policy import Policy
from gateway.routing.stats import LocalStats
from gateway.tracing import Tracing

RECENT_DECISIONS = 50

if TYPE_CHECKING:
    import aiohttp

    from gateway.cache.redis_client import RedisConnection
    from gateway.cache.responses import ResponseStore
    from gateway.cache.shared_stats import SharedStats
    from gateway.cache.singleflight import RedisFlightLock
    from gateway.cache.store import ResponseCache
    from gateway.limits.backend import LimitsBackend
    from gateway.providers.bedrock import BedrockClient
    from gateway.service.region_discovery import RegionDiscovery
    from gateway.service.shadow_hook import ShadowHook


@dataclass
class GatewayState:
    """What a request needs: settings, the live policy, clients and stats.

    ``policy`` is replaced whole on reload; a request reads it once and keeps its copy.
    """

    settings: Settings
    policy: Policy
    policy_source: str
    metrics: Metrics
    stats: LocalStats
    cache: ResponseCache
    limits: LimitsBackend
    flight: SingleFlight = field(default_factory=SingleFlight)
    flight_lock: RedisFlightLock | None = None
    redis: RedisConnection | None = None
    shared_stats: SharedStats | None = None
    bedrock: BedrockClient | None = None
    http: aiohttp.ClientSession | None = None
    admin_key_hash: str | None = None
    # When ``policy`` was loaded (Unix seconds): the ``created`` of /v1/models.
    policy_loaded_at: int = field(default_factory=lambda: int(time.time()))
    rng: random.Random = field(default_factory=random.Random)
    tracing: Tracing = field(default_factory=Tracing)
    #: The AWS region the policy is compiled for (inference profiles, region offers).
    region: str = "us-east-1"
    shadow: ShadowHook | None = None
    #: Stored ``/v1/responses`` answers (``store: true``); set by ``build_state``.
    responses: ResponseStore | None = None
    discovery: RegionDiscovery | None = None
    #: Prompt prefixes Bedrock holds cached lately (for cost estimates).
    prefixes: PrefixTracker = field(default_factory=PrefixTracker)
    # The latest routing decisions with their wall-clock time, for the /ui page.
    recent_decisions: deque[tuple[float, Decision]] = field(
        default_factory=lambda: deque(maxlen=RECENT_DECISIONS)
    )

    @property
    def redis_state(self) -> str:
        """``off`` without Redis, else ``ok`` or ``degraded`` (serving uncached meanwhile)."""
        return "off" if self.redis is None else self.redis.state

    def require_bedrock(self) -> BedrockClient:
        if self.bedrock is None:  # only before start-up finished
            raise RuntimeError("Bedrock client not started")
        return self.bedrock
