"""Routing (pure): the policy document (docs/design.md, "Policy language") as strict pydantic
models, and PolicyError.

These models check the *shape* of a policy: every key is known (``extra="forbid"``), every
value has the right type. Cross-references (a route naming a model, a rule naming a route,
...) are checked when the document is compiled (``compiler.compile_policy``), which also
turns it into the immutable ``Policy`` the engine reads.

YAML caveat: unquoted ``on``, ``off``, ``yes``, ``no``, ``true``, ``false`` are booleans in YAML
1.1 (PyYAML). Write such keys quoted (``"on": ...``) or not at all; the loader refuses a
mapping key that YAML did not read as a string and says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

#: ``tool_choice``: honours a forced tool choice (``required`` or a named function); implied by
#: ``tools`` unless the capability table says the model takes no forced choice.
Feature = Literal["tools", "vision", "streaming", "json", "reasoning", "tool_choice"]
Strategy = Literal["cost", "latency", "balanced", "weighted", "ordered"]
ModelKind = Literal["chat", "embedding"]
RetryReason = Literal["throttled", "unavailable", "timeout", "server_error", "model_error"]
CacheWhen = Literal["deterministic", "always", "never"]
#: Bedrock prompt caching on a route: ``auto`` places cache points where the model supports
#: them and the prefix is long enough; ``off`` never does. YAML ``off`` (a boolean) is read too.
PromptCacheMode = Literal["auto", "off"]
#: A route's default Bedrock service tier (OpenAI ``service_tier`` overrides it per request).
ServiceTierName = Literal["default", "flex", "priority"]
Latency = Literal["standard", "optimized"]
#: Where a request's data may be processed (see ``gateway.capabilities``).
Residency = Literal["region", "geo", "global"]

FEATURES: tuple[str, ...] = ("tools", "vision", "streaming", "json", "reasoning", "tool_choice")
DEFAULT_RETRYABLE: tuple[RetryReason, ...] = ("throttled", "unavailable", "timeout", "server_error")

Tier = Annotated[int, Field(ge=1, le=3)]
PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]


@dataclass(frozen=True, slots=True)
class PolicyIssue:
    """One thing wrong with a policy: where (file, line, document path) and what."""

    message: str
    path: str = ""
    file: str | None = None
    line: int | None = None
    loc: tuple[str | int, ...] = ()

    def __str__(self) -> str:
        where = self.file or "<policy>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class PolicyError(Exception):
    """A policy that cannot be loaded. ``issues`` lists every problem found, in document order."""

    def __init__(self, issues: list[PolicyIssue] | tuple[PolicyIssue, ...]) -> None:
        self.issues: tuple[PolicyIssue, ...] = tuple(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues) or "invalid policy")


Loc = tuple[str | int, ...]


class Issues:
    """Collects every problem found, so one run reports them all."""

    def __init__(self) -> None:
        self.items: list[PolicyIssue] = []

    def add(self, loc: Loc, message: str) -> None:
        self.items.append(PolicyIssue(message=message, path=format_path(loc), loc=loc))

    def raise_if_any(self) -> None:
        if self.items:
            raise PolicyError(self.items)


def format_path(loc: tuple[str | int, ...]) -> str:
    """``("routes", "cheap", "candidates", 1)`` -> ``routes.cheap.candidates[1]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _star_or_names(value: Any) -> Any:
    """Accept ``"*"`` or a list of strings; say so plainly otherwise (no union noise)."""
    if value == "*" or value is None:
        return value
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    raise ValueError(f"must be '*' or a list of names, got {value!r}")


def _version_string(value: Any) -> Any:
    """A guardrail version may be written unquoted (``version: 1``)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _yaml_off(value: Any) -> Any:
    """``prompt_cache: off`` unquoted is YAML's boolean false: read it as ``off``."""
    if value is False:
        return "off"
    if value is True:
        return "auto"
    return value


def _default_features() -> list[Feature]:
    return ["streaming"]


StarOrNames = Annotated[list[str] | Literal["*"], BeforeValidator(_star_or_names)]


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class TierPriceDoc(_Doc):
    """The prices of a service tier or of latency-optimized inference (USD per million)."""

    input_per_mtok: NonNegativeFloat
    output_per_mtok: NonNegativeFloat | None = None
    cache_read_per_mtok: NonNegativeFloat | None = None
    cache_write_per_mtok: NonNegativeFloat | None = None


class PriceDoc(_Doc):
    input_per_mtok: NonNegativeFloat
    output_per_mtok: NonNegativeFloat | None = None
    #: Prompt-caching prices (USD per million tokens); unset: cached input at the input price.
    cache_read_per_mtok: NonNegativeFloat | None = None
    cache_write_per_mtok: NonNegativeFloat | None = None
    #: Prices of the flex and priority tiers; a tier without a price here is never sent.
    flex: TierPriceDoc | None = None
    priority: TierPriceDoc | None = None
    #: Price of latency-optimized inference; without one, the model is called standard.
    latency_optimized: TierPriceDoc | None = None


class ModelDoc(_Doc):
    bedrock_id: Annotated[str, Field(min_length=1)]
    price: PriceDoc
    kind: ModelKind = "chat"
    safety_tier: Tier = 1
    context_window: PositiveInt | None = None
    max_output_tokens: PositiveInt = 4096
    features: list[Feature] = Field(default_factory=_default_features)
    expected_latency_ms: PositiveFloat | None = None
    dimensions: PositiveInt | None = None


class GuardrailDoc(_Doc):
    id: Annotated[str, Field(min_length=1)]
    version: Annotated[str, BeforeValidator(_version_string), Field(min_length=1)]


class RequireDoc(_Doc):
    safety_tier: Tier = 1
    features: list[Feature] = Field(default_factory=list)


class BalanceDoc(_Doc):
    cost: NonNegativeFloat = 0.5
    latency: NonNegativeFloat = 0.5


class RetryDoc(_Doc):
    max_attempts: Annotated[int, Field(ge=1, le=10)] = 3
    retryable: list[RetryReason] = Field(default_factory=lambda: list(DEFAULT_RETRYABLE))


class ShadowDoc(_Doc):
    """A route's shadow block: the share of its requests also sent, in the background, to
    each of ``models`` to compare them with the answering model (never seen by the client)."""

    models: Annotated[list[str], Field(min_length=1)]
    share: Annotated[float, Field(ge=0, le=1)] = 0.05
    max_in_flight: Annotated[int, Field(ge=1)] = 8
    budget_usd_per_day: NonNegativeFloat | None = None
    embedding_model: str | None = None


class RouteDoc(_Doc):
    strategy: Strategy
    candidates: StarOrNames | None = None
    weights: dict[str, float] | None = None
    balance: BalanceDoc | None = None
    require: RequireDoc = Field(default_factory=RequireDoc)
    guardrail: str | None = None
    estimated_output_tokens: PositiveInt = 256
    explore: Annotated[float, Field(ge=0, le=1)] = 0.05
    timeout_s: PositiveFloat | None = None
    retry: RetryDoc | None = None
    shadow: ShadowDoc | None = None
    residency: Residency | None = None
    prompt_cache: Annotated[PromptCacheMode, BeforeValidator(_yaml_off)] = "auto"
    service_tier: ServiceTierName = "default"
    latency: Latency = "standard"
    #: Request fields outside the OpenAI schema sent as additionalModelRequestFields.
    extra_fields: list[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]] = Field(
        default_factory=list
    )


class WhenDoc(_Doc):
    header: dict[str, str] | None = None
    tenant: str | None = None
    model: str | None = None


class RuleDoc(_Doc):
    when: WhenDoc
    route: str | None = None
    require: RequireDoc | None = None


class RateLimitDoc(_Doc):
    requests_per_minute: PositiveInt | None = None
    tokens_per_minute: PositiveInt | None = None


class BudgetDoc(_Doc):
    usd_per_day: PositiveFloat


class TenantDoc(_Doc):
    key_sha256: list[str] = Field(default_factory=list)
    routes: StarOrNames = "*"
    min_safety_tier: Tier = 1
    rate_limit: RateLimitDoc | None = None
    budget: BudgetDoc | None = None
    shadow: bool = True
    residency: Residency | None = None


class CacheDoc(_Doc):
    ttl_s: Annotated[int, Field(ge=0)] = 3600
    when: CacheWhen = "deterministic"


class DefaultsDoc(_Doc):
    route: str | None = None
    retry: RetryDoc = Field(default_factory=RetryDoc)
    timeout_s: PositiveFloat = 60.0
    cache: CacheDoc = Field(default_factory=CacheDoc)
    residency: Residency = "geo"
    #: The residency a request requiring a safety tier may use at most, e.g. ``{3: region}``.
    tier_residency: dict[Tier, Residency] = Field(default_factory=dict)


class PolicyDocument(_Doc):
    """The whole policy file (or the merge of a folder's files)."""

    version: Literal[1]
    models: dict[str, ModelDoc] = Field(default_factory=dict)
    guardrails: dict[str, GuardrailDoc] = Field(default_factory=dict)
    routes: dict[str, RouteDoc] = Field(default_factory=dict)
    rules: list[RuleDoc] = Field(default_factory=list)
    tenants: dict[str, TenantDoc] = Field(default_factory=dict)
    defaults: DefaultsDoc = Field(default_factory=DefaultsDoc)
