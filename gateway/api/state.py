"""API: the per-app state that ``create_app`` builds and every router reads from ``app.state``."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gateway.config import Settings
from gateway.metrics import Metrics
from gateway.routing.compiled import Policy
from gateway.routing.stats import LocalStats

if TYPE_CHECKING:
    import aiohttp

    from gateway.api.shadow_hook import ShadowHook
    from gateway.cache.store import ResponseCache
    from gateway.providers.bedrock import BedrockClient


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
    bedrock: BedrockClient | None = None
    http: aiohttp.ClientSession | None = None
    admin_key_hash: str | None = None
    rng: random.Random = field(default_factory=random.Random)
    redis_state: str = "off"
    shadow: ShadowHook | None = None

    def require_bedrock(self) -> BedrockClient:
        if self.bedrock is None:  # only before start-up finished
            raise RuntimeError("Bedrock client not started")
        return self.bedrock
