"""Routing (pure): the compiled policy's types, also importable as ``gateway.routing.policy``."""

from gateway.routing.policy import (
    CachePolicy,
    CompiledPolicy,
    Defaults,
    Guardrail,
    ModelSpec,
    Policy,
    RateLimit,
    RetryPolicy,
    Route,
    Rule,
    Tenant,
)

__all__ = [
    "CachePolicy",
    "CompiledPolicy",
    "Defaults",
    "Guardrail",
    "ModelSpec",
    "Policy",
    "RateLimit",
    "RetryPolicy",
    "Route",
    "Rule",
    "Tenant",
]
