"""API: region discovery in the background — benches the catalogue models the region lacks.

At start and every ``GATEWAY_DISCOVERY_INTERVAL_S`` the control-plane listings are read
(``providers.discovery``, in a worker thread); ``routing.offer.not_offered`` turns them into
bench reasons, which replace the previous discovery's benches whole. A failed discovery logs
one warning, counts ``gateway_discovery_failures_total`` and keeps the last known offer;
nothing waits on it, so serving never does. An answer that would bench every chat model is
not believed (a wrong region or account is likelier than a region with no model).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from gateway.errors import DiscoveryError
from gateway.providers.discovery import ControlPlane
from gateway.routing.offer import Offer, invocation_ids, is_judged, not_offered
from gateway.routing.policy import Policy
from gateway.routing.stats import LocalStats
from gateway.service.state import GatewayState

log = logging.getLogger("gateway.discovery")
SOURCE = "discovery"
#: How often the last offer is re-applied when the policy (reload) or the stats changed.
RECHECK_S = 2.0

Fetch = Callable[[], Awaitable[Offer]]


class RegionDiscovery:
    """One background task per app; ``offer`` is the last successful listing (or None)."""

    def __init__(
        self,
        state: GatewayState,
        *,
        region: str,
        interval_s: float,
        timeout_s: float,
        fetch: Fetch | None = None,
    ) -> None:
        self._state = state
        self._region = region
        self._interval_s = interval_s
        self._plane: ControlPlane | None = None
        if fetch is None:
            self._plane = ControlPlane(region, timeout_s)
            fetch = self._plane.discover
        self._fetch = fetch
        self._task: asyncio.Task[None] | None = None
        self._applied: tuple[Policy, LocalStats] | None = None
        self.offer: Offer | None = None
        self.not_offered: dict[str, str] = {}

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._plane is not None:
            self._plane.close()

    async def run_once(self) -> bool:
        """One discovery; True when it succeeded and its benches are in force."""
        try:
            offer = await self._fetch()
            if offer.empty:
                raise DiscoveryError("the listings named no model and no inference profile")
        except DiscoveryError as exc:
            self._state.metrics.discovery_failures.inc()
            kept = "the last known offer stays" if self.offer else "no model is excluded"
            log.warning("region discovery in %s failed (%s): %s", self._region, kept, exc)
            return False
        self.offer = offer
        self._state.metrics.discovery_success.set(offer.taken_at)
        self.apply()
        log.info(
            "region discovery in %s: %d models on demand, %d inference profiles; not offered: %s",
            self._region,
            len(offer.on_demand),
            len(offer.profiles),
            ", ".join(sorted(self.not_offered)) or "none of the catalogue",
        )
        return True

    def apply(self) -> None:
        """Bench what the last offer excludes from the live policy (pure and cheap)."""
        policy, stats = self._state.policy, self._state.stats
        self._applied = (policy, stats)
        if self.offer is None:
            return
        reasons = not_offered(policy.models, self.offer, self._region)
        judged = [
            name
            for name, spec in policy.models.items()
            if spec.kind == "chat"
            and not spec.unusable
            and any(is_judged(model_id) for model_id in invocation_ids(spec))
        ]
        if judged and all(name in reasons for name in judged):
            log.warning(
                "region discovery in %s would exclude every chat model; ignored", self._region
            )
            reasons = {}
        self.not_offered = reasons
        stats.bench.replace_source(SOURCE, reasons)
        self._state.metrics.discovery_not_offered.set(len(reasons))

    def _stale(self) -> bool:
        applied = self._applied
        state = self._state
        return applied is None or applied[0] is not state.policy or applied[1] is not state.stats

    async def _run(self) -> None:
        await self.run_once()
        due = time.monotonic() + self._interval_s
        while True:
            await asyncio.sleep(max(0.0, min(RECHECK_S, due - time.monotonic())))
            if time.monotonic() >= due:
                await self.run_once()
                due = time.monotonic() + self._interval_s
            elif self._stale():
                self.apply()
