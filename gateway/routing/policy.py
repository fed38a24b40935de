"""Routing (pure): the compiled, immutable ``Policy`` the engine reads (frozen dataclasses).

The document's shape (pydantic, ``extra="forbid"``) lives in ``schema``; ``compiler`` checks
every cross-reference and builds this; ``loader`` reads YAML. ``PolicyError`` and the
document models are re-exported here. YAML caveat: write ``on``/``yes``/``no`` keys quoted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from gateway.capabilities import Invocation, ModelCapabilities
from gateway.routing.levers import Levers, Price
from gateway.routing.schema import (
    FEATURES,
    CacheWhen,
    ModelKind,
    PolicyDocument,
    PolicyError,
    PolicyIssue,
    Residency,
    RetryReason,
    Strategy,
)

__all__ = [
    "CachePolicy",
    "CompiledPolicy",
    "Defaults",
    "Guardrail",
    "ModelSpec",
    "Policy",
    "PolicyDocument",
    "PolicyError",
    "PolicyIssue",
    "RateLimit",
    "RetryPolicy",
    "Route",
    "Rule",
    "ShadowSpec",
    "Tenant",
]

#: Bit per feature, so a candidate's feature check is one AND.
FEATURE_BITS: Mapping[str, int] = {name: 1 << index for index, name in enumerate(FEATURES)}
#: Geography prefixes of system-defined cross-region inference profiles.
PROFILE_PREFIXES: tuple[str, ...] = ("us.", "eu.", "apac.", "global.", "us-gov.", "ca.", "jp.")
#: Residencies from the strictest (data stays in the region) to the loosest.
RESIDENCIES: tuple[Residency, ...] = ("region", "geo", "global")
RESIDENCY_RANK: Mapping[str, int] = {name: rank for rank, name in enumerate(RESIDENCIES)}
#: Names a client may send for the default route.
DEFAULT_ROUTE_ALIASES: frozenset[str] = frozenset({"", "default"})


def feature_mask(features: Iterable[str]) -> int:
    """The bit mask of an iterable of feature names."""
    mask = 0
    for name in features:
        mask |= FEATURE_BITS[name]
    return mask


def feature_names(mask: int) -> list[str]:
    """The feature names in a mask, in canonical order."""
    return [name for name in FEATURES if FEATURE_BITS[name] & mask]


def strip_profile_prefix(bedrock_id: str) -> str:
    """``us.anthropic.claude-...`` -> ``anthropic.claude-...`` (prices equal the base model's)."""
    for prefix in PROFILE_PREFIXES:
        if bedrock_id.startswith(prefix):
            return bedrock_id[len(prefix) :]
    return bedrock_id


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One catalogued model. Prices are USD per million tokens."""

    name: str
    bedrock_id: str
    kind: ModelKind
    input_per_mtok: float
    output_per_mtok: float
    safety_tier: int
    context_window: int | None
    max_output_tokens: int
    features: frozenset[str]
    feature_mask: int
    expected_latency_ms: float | None
    dimensions: int | None
    cache_read_per_mtok: float | None = None
    cache_write_per_mtok: float | None = None
    #: The model's row in the capability table (None: a model the table does not know).
    caps: ModelCapabilities | None = None
    #: How to call it from the policy's region, by residency rank (region, geo, global).
    invocations: tuple[Invocation, ...] = ()
    #: Why the model can never be called (end of life), "" otherwise.
    unusable: str = ""
    #: Features the policy declares that the table says the model lacks (AWS's rule).
    table_lacks: int = 0
    #: Prices of the flex/priority tiers and of latency-optimized inference, by name.
    tier_prices: tuple[tuple[str, Price], ...] = ()

    @property
    def tier_price_map(self) -> dict[str, Price]:
        return dict(self.tier_prices)

    @property
    def price(self) -> Price:
        """The standard (default tier) price."""
        return Price(
            self.input_per_mtok,
            self.output_per_mtok,
            self.cache_read_per_mtok,
            self.cache_write_per_mtok,
        )

    def invocation(self, residency_rank: int) -> Invocation:
        """The id to call under a residency (``RESIDENCY_RANK``); as written without a table."""
        if not self.invocations:
            return Invocation(self.bedrock_id, "region")
        return self.invocations[residency_rank]


@dataclass(frozen=True, slots=True)
class Guardrail:
    id: str
    version: str


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int
    retryable: frozenset[RetryReason]


@dataclass(frozen=True, slots=True)
class CachePolicy:
    ttl_s: int
    when: CacheWhen


@dataclass(frozen=True, slots=True)
class ShadowSpec:
    """A route's compiled shadow block: models (chat, catalogued) to compare in the background
    on ``share`` of the route's requests, at most ``max_in_flight`` calls at once, within
    ``budget_usd_per_day`` (None: no cap); ``embedding_model`` enables the cosine check."""

    models: tuple[ModelSpec, ...]
    share: float
    max_in_flight: int
    budget_usd_per_day: float | None
    embedding_model: ModelSpec | None = None


@dataclass(frozen=True, slots=True)
class Route:
    """A route with its candidates resolved. ``pool`` is what survives the route's own
    requirements; ``static_excluded`` is what they removed (with the reason), both in order."""

    name: str
    strategy: Strategy
    candidates: tuple[ModelSpec, ...]
    pool: tuple[ModelSpec, ...]
    pool_weights: tuple[float, ...]
    static_excluded: tuple[tuple[ModelSpec, str], ...]
    balance_cost: float
    balance_latency: float
    require_tier: int
    require_mask: int
    guardrail: Guardrail | None
    estimated_output_tokens: int
    explore: float
    timeout_s: float
    retry: RetryPolicy
    cache: CachePolicy
    implicit: bool = False
    shadow: ShadowSpec | None = None
    residency_rank: int | None = None  # None: the policy default
    levers: Levers = field(default_factory=Levers)


@dataclass(frozen=True, slots=True)
class Rule:
    """A compiled rule: every condition set must hold (header values compare case-insensitively)."""

    index: int
    headers: tuple[tuple[str, str], ...]
    tenant: str | None
    model_pattern: re.Pattern[str] | None
    route: str | None
    require_tier: int
    require_mask: int
    model_glob: str | None = None

    def matches(self, model: str, tenant: str, headers: Mapping[str, str]) -> bool:
        if self.tenant is not None and tenant != self.tenant:
            return False
        if self.model_pattern is not None and self.model_pattern.fullmatch(model) is None:
            return False
        for name, value in self.headers:
            got = headers.get(name)
            if got is None or got.strip().casefold() != value:
                return False
        return True


@dataclass(frozen=True, slots=True)
class RateLimit:
    requests_per_minute: int | None
    tokens_per_minute: int | None


@dataclass(frozen=True, slots=True)
class Tenant:
    """``allowed`` is None for ``routes: "*"``, else the route and catalogue names allowed."""

    name: str
    key_hashes: frozenset[str]
    allowed: frozenset[str] | None
    min_safety_tier: int
    rate_limit: RateLimit | None
    usd_per_day: float | None
    shadow_allowed: bool = True
    residency_rank: int | None = None  # None: no restriction of its own

    def may_use(self, name: str) -> bool:
        return self.allowed is None or name in self.allowed


@dataclass(frozen=True, slots=True)
class Defaults:
    route: str | None
    retry: RetryPolicy
    timeout_s: float
    cache: CachePolicy
    residency_rank: int = 1  # geo
    #: The loosest residency rank a request requiring tier 1, 2, 3 may use.
    tier_residency: tuple[int, int, int] = (2, 2, 2)


@dataclass(frozen=True, slots=True, eq=False)
class Policy:
    """The compiled policy. Mappings are read-only views; build one with ``compile_policy``.

    ``lookup`` maps every name a client may send (route names, catalogue names, bedrock ids)
    to its route (a catalogued model is a one-model ``ordered`` route); ``by_bedrock_id`` maps
    bedrock ids, and the ids with a geography prefix stripped, to the model (for prices)."""

    models: Mapping[str, ModelSpec]
    routes: Mapping[str, Route]
    rules: tuple[Rule, ...]
    tenants: Mapping[str, Tenant]
    guardrails: Mapping[str, Guardrail]
    defaults: Defaults
    lookup: Mapping[str, Route]
    by_bedrock_id: Mapping[str, ModelSpec]
    by_key_hash: Mapping[str, str]
    sources: tuple[str, ...] = ()
    region: str = "us-east-1"
    #: Uses of a model against AWS's rules that do not stop the policy (check-policy prints them).
    warnings: tuple[PolicyIssue, ...] = ()

    def resolve(self, name: str) -> Route | None:
        """The route a requested ``model`` names ("" and "default" mean defaults.route)."""
        if name in DEFAULT_ROUTE_ALIASES:
            return self.lookup.get(self.defaults.route) if self.defaults.route else None
        return self.lookup.get(name)

    @property
    def extra_fields(self) -> frozenset[str]:
        """Every extra field some route allows (a field none allows is refused before routing)."""
        allowed: frozenset[str] = frozenset()
        for route in self.routes.values():
            allowed |= route.levers.extra_fields
        return allowed

    def model_for_bedrock_id(self, bedrock_id: str) -> ModelSpec | None:
        """The catalogued model for a bedrock id or inference-profile id, if any."""
        spec = self.by_bedrock_id.get(bedrock_id)
        if spec is None:
            spec = self.by_bedrock_id.get(strip_profile_prefix(bedrock_id))
        return spec


CompiledPolicy = Policy
