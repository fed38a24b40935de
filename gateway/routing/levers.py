"""Routing (pure): Bedrock's cost and latency levers of a route, and the price of a call.

A route fixes the levers (``Levers``: prompt caching, default service tier, latency, extra
fields); ``call_levers`` decides, for one request and one candidate, what is really sent:
only what the capability table says the model offers *and* the catalogue prices, so every
cost figure is computed from a price the policy states. ``call_cost`` prices Bedrock's usage:
uncached input, cache reads and cache writes, output, at the prices of the tier that served.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from gateway.capabilities import ModelCapabilities
from gateway.errors import InvalidRequestError
from gateway.routing.schema import PriceDoc, RouteDoc, TierPriceDoc

#: OpenAI ``service_tier`` values the gateway accepts; ``auto`` means the route's default.
REQUEST_TIERS: frozenset[str] = frozenset({"auto", "default", "flex", "priority"})
#: The key of latency-optimized prices in ``ModelSpec.tier_prices``.
LATENCY_OPTIMIZED = "latency_optimized"


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens; cache prices None: at the input price."""

    input_per_mtok: float
    output_per_mtok: float
    cache_read_per_mtok: float | None = None
    cache_write_per_mtok: float | None = None


@dataclass(frozen=True, slots=True)
class Levers:
    """A route's levers (``prompt_cache``, ``service_tier``, ``latency``, ``extra_fields``)."""

    prompt_cache: bool = True
    service_tier: str = "default"
    latency_optimized: bool = False
    extra_fields: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True, slots=True)
class CallLevers:
    """What one call to one model sends: cache points or not, ``serviceTier`` (None: not
    sent, Bedrock's default), ``performanceConfig`` optimized or not."""

    prompt_cache: bool = False
    service_tier: str | None = None
    latency_optimized: bool = False


def _price(doc: TierPriceDoc) -> Price:
    return Price(
        doc.input_per_mtok,
        doc.output_per_mtok or 0.0,
        doc.cache_read_per_mtok,
        doc.cache_write_per_mtok,
    )


def tier_prices(doc: PriceDoc) -> tuple[tuple[str, Price], ...]:
    """The catalogue entry's tier and latency-optimized prices, by name."""
    found = {"flex": doc.flex, "priority": doc.priority, LATENCY_OPTIMIZED: doc.latency_optimized}
    return tuple((name, _price(tier)) for name, tier in found.items() if tier)


def route_levers(doc: RouteDoc) -> Levers:
    return Levers(
        prompt_cache=doc.prompt_cache == "auto",
        service_tier=doc.service_tier,
        latency_optimized=doc.latency == "optimized",
        extra_fields=frozenset(doc.extra_fields),
    )


def requested_tier(value: str | None) -> str | None:
    """The client's ``service_tier`` checked (None or ``auto``: the route decides)."""
    if value is None or value == "auto":
        return None
    if value not in REQUEST_TIERS:
        raise InvalidRequestError(
            f"Invalid value for 'service_tier': '{value}' is not one of 'auto', 'default', "
            "'flex', 'priority'.",
            param="service_tier",
        )
    return value


def call_levers(
    levers: Levers,
    caps: ModelCapabilities | None,
    tier_prices: Mapping[str, Price],
    region: str,
    tier: str | None,
) -> CallLevers:
    """The levers one call uses; ``tier`` is the client's (None: the route's default)."""
    if caps is None:
        return CallLevers()
    wanted = tier if tier is not None else levers.service_tier
    send: str | None = None
    if wanted != "default" and wanted in caps.service_tiers and wanted in tier_prices:
        send = wanted
    optimized = (
        levers.latency_optimized
        and region in caps.latency_optimized_regions
        and LATENCY_OPTIMIZED in tier_prices
    )
    return CallLevers(
        prompt_cache=levers.prompt_cache and caps.prompt_caching is not None,
        service_tier=send,
        latency_optimized=optimized,
    )


def price_of(
    base: Price, tier_prices: Mapping[str, Price], tier: str, latency_optimized: bool
) -> Price:
    """The price that applies to a call served at ``tier`` (and latency, as Bedrock says)."""
    if latency_optimized and LATENCY_OPTIMIZED in tier_prices:
        return tier_prices[LATENCY_OPTIMIZED]
    return tier_prices.get(tier, base)


def call_cost(
    price: Price, prompt_tokens: int, output_tokens: int, cache_read: int = 0, cache_write: int = 0
) -> float:
    """USD of a call: ``prompt_tokens`` include the cache reads and writes (OpenAI's count)."""
    uncached = max(0, prompt_tokens - cache_read - cache_write)
    read = price.input_per_mtok if price.cache_read_per_mtok is None else price.cache_read_per_mtok
    write = (
        price.input_per_mtok if price.cache_write_per_mtok is None else price.cache_write_per_mtok
    )
    total = (
        uncached * price.input_per_mtok
        + cache_read * read
        + cache_write * write
        + output_tokens * price.output_per_mtok
    )
    return total / 1e6
