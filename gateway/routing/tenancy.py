"""Routing (pure): compile a policy's rules and tenants, checking every name they refer to."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Collection, Mapping, Sequence

from gateway.routing.policy import RESIDENCY_RANK, RateLimit, Route, Rule, Tenant, feature_mask
from gateway.routing.schema import Issues, Loc, RuleDoc, TenantDoc

DEFAULT_TENANT = "default"
SHA256_RE = re.compile(r"[0-9a-f]{64}")
_TENANT_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+-]*")


def compile_rules(
    docs: Sequence[RuleDoc],
    lookup: Mapping[str, Route],
    tenants: Mapping[str, TenantDoc],
    issues: Issues,
) -> tuple[Rule, ...]:
    """Rules in order; a rule's route and tenant must exist, and it must do something."""
    rules: list[Rule] = []
    for index, doc in enumerate(docs):
        loc: Loc = ("rules", index)
        when = doc.when
        if when.tenant is not None and when.tenant not in tenants and when.tenant != DEFAULT_TENANT:
            issues.add((*loc, "when", "tenant"), f"unknown tenant '{when.tenant}' (not in tenants)")
        route_name = None
        if doc.route is not None:
            route = lookup.get(doc.route)
            if route is None:
                issues.add(
                    (*loc, "route"), f"unknown route '{doc.route}' (not in routes or models)"
                )
            else:
                route_name = route.name
        if doc.route is None and doc.require is None:
            issues.add(loc, "a rule needs 'route' or 'require' (or both)")
        rules.append(
            Rule(
                index=index,
                headers=tuple(
                    (name.lower(), value.strip().casefold())
                    for name, value in (when.header or {}).items()
                ),
                tenant=when.tenant,
                model_pattern=re.compile(fnmatch.translate(when.model)) if when.model else None,
                model_glob=when.model,
                route=route_name,
                require_tier=doc.require.safety_tier if doc.require else 1,
                require_mask=feature_mask(doc.require.features) if doc.require else 0,
            )
        )
    return tuple(rules)


def _allowed(
    loc: Loc, doc: TenantDoc, lookup: Mapping[str, Route], issues: Issues
) -> frozenset[str] | None:
    if doc.routes == "*":
        return None
    allowed: set[str] = set()
    for index, name in enumerate(doc.routes):
        route = lookup.get(name)
        if route is None:
            issues.add((*loc, "routes", index), f"unknown route '{name}' (not in routes or models)")
        else:
            allowed.add(route.name)
    return frozenset(allowed)


def _hashes(loc: Loc, values: Sequence[str], issues: Issues) -> list[str]:
    out: list[str] = []
    for index, value in enumerate(values):
        digest = value.strip().lower()
        if not SHA256_RE.fullmatch(digest):
            issues.add(
                (*loc, index),
                'not a SHA-256 hex digest (64 hex characters; printf %s "$KEY" | sha256sum)',
            )
        out.append(digest)
    return out


def compile_tenants(
    docs: Mapping[str, TenantDoc],
    lookup: Mapping[str, Route],
    default_key_hashes: Collection[str],
    issues: Issues,
) -> tuple[dict[str, Tenant], dict[str, str]]:
    """Tenants by name and tenant name by key hash. The tenant ``default`` always exists: it
    holds GATEWAY_API_KEYS and may use every route unless the policy defines it."""
    tenants: dict[str, Tenant] = {}
    by_key: dict[str, str] = {}
    env_hashes = _hashes(("GATEWAY_API_KEYS",), list(default_key_hashes), issues)
    for digest in env_hashes:
        by_key[digest] = DEFAULT_TENANT
    for name, doc in docs.items():
        loc: Loc = ("tenants", name)
        if not _TENANT_NAME_RE.fullmatch(name):
            issues.add(loc, f"invalid tenant name {name!r}")
        hashes = _hashes((*loc, "key_sha256"), doc.key_sha256, issues)
        for index, digest in enumerate(hashes):
            owner = by_key.setdefault(digest, name)
            if owner != name:
                issues.add(
                    (*loc, "key_sha256", index), f"key hash also belongs to tenant '{owner}'"
                )
        if name == DEFAULT_TENANT:
            hashes = hashes + env_hashes
        tenants[name] = Tenant(
            name=name,
            key_hashes=frozenset(hashes),
            allowed=_allowed(loc, doc, lookup, issues),
            min_safety_tier=doc.min_safety_tier,
            rate_limit=(
                RateLimit(doc.rate_limit.requests_per_minute, doc.rate_limit.tokens_per_minute)
                if doc.rate_limit
                else None
            ),
            usd_per_day=doc.budget.usd_per_day if doc.budget else None,
            residency_rank=RESIDENCY_RANK[doc.residency] if doc.residency else None,
        )
    if DEFAULT_TENANT not in tenants:
        tenants[DEFAULT_TENANT] = Tenant(
            name=DEFAULT_TENANT,
            key_hashes=frozenset(env_hashes),
            allowed=None,
            min_safety_tier=1,
            rate_limit=None,
            usd_per_day=None,
        )
    return tenants, by_key
