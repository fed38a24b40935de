"""Routing layer (pure): policy models, loading, and the decision engine.

Public names (import from here): ``load_policy``, ``load_policy_text``, ``compile_policy``,
``Policy``, ``PolicyError``, ``choose``, ``RouteRequest``, ``Decision``, ``Candidate``,
``decision_to_dict``, ``estimate_cost``, ``actual_cost``, ``allowed_names``,
``tenant_for_key_hash``, ``StatsView``, ``LocalStats``, ``PeekStats``, ``describe_policy``.
"""

from gateway.routing.compiler import compile_policy
from gateway.routing.decision import Candidate, Decision, RouteRequest, decision_to_dict
from gateway.routing.describe import describe_policy
from gateway.routing.engine import (
    actual_cost,
    allowed_names,
    choose,
    estimate_cost,
    tenant_for_key_hash,
)
from gateway.routing.loader import load_policy, load_policy_text, policy_files
from gateway.routing.policy import CompiledPolicy, ModelSpec, Policy, Route, Tenant
from gateway.routing.schema import PolicyError, PolicyIssue
from gateway.routing.stats import LocalStats, PeekStats, StatsView

__all__ = [
    "Candidate",
    "CompiledPolicy",
    "Decision",
    "LocalStats",
    "ModelSpec",
    "PeekStats",
    "Policy",
    "PolicyError",
    "PolicyIssue",
    "Route",
    "RouteRequest",
    "StatsView",
    "Tenant",
    "actual_cost",
    "allowed_names",
    "choose",
    "compile_policy",
    "decision_to_dict",
    "describe_policy",
    "estimate_cost",
    "load_policy",
    "load_policy_text",
    "policy_files",
    "tenant_for_key_hash",
]
