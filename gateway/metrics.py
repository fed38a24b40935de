"""Metrics: every Prometheus family the gateway exports, built against an injected registry.

Label values come from the policy (route, model, tenant names) or from fixed sets
(status codes, error reasons, cache results), never from raw client input.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
ALL_TENANTS = "_all"

# Seconds: tens of milliseconds up to two minutes, for whole LLM calls.
DURATION_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0)
# Time to first token is finer at the low end.
TTFT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0, 30.0)


class Labelled:
    """A labelled family whose children are looked up once per label set and kept.

    prometheus-client's ``labels()`` validates and locks on every call; on the hot path the
    same few (route, model) pairs recur, so the children are cached. Label values are policy
    names or fixed sets, so the cache is as bounded as the policy.
    """

    __slots__ = ("_children", "family")

    def __init__(self, family: Counter | Gauge | Histogram) -> None:
        self.family = family
        self._children: dict[tuple[str, ...], Any] = {}

    def labels(self, *values: str) -> Any:
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = self.family.labels(*values)
        return child


class Metrics:
    """The gateway's metric families; one instance per app, on ``app.state``."""

    def __init__(
        self, registry: CollectorRegistry, *, version: str = "0", tenant_labels: bool = True
    ) -> None:
        self.registry = registry
        self.tenant_labels = tenant_labels
        # Set by `gateway serve --workers N`: every worker writes its samples there and a
        # scrape of any worker sums them (prometheus-client's multiprocess mode).
        self.multiprocess_dir = os.environ.get(MULTIPROC_ENV) or None

        def counter(name: str, doc: str, *labels: str) -> Labelled:
            return Labelled(Counter(name, doc, labels, registry=registry))

        def histogram(name: str, doc: str, buckets: tuple[float, ...], *labels: str) -> Labelled:
            return Labelled(Histogram(name, doc, labels, buckets=buckets, registry=registry))

        info = Gauge(
            "gateway_build_info",
            "Gateway version (value 1)",
            ["version", "python"],
            registry=registry,
            multiprocess_mode="max",
        )
        info.labels(version, platform.python_version()).set(1)
        self.requests = counter(
            "gateway_requests_total", "Requests answered", "route", "model", "status"
        )
        self.request_duration = histogram(
            "gateway_request_duration_seconds", "Whole request time", DURATION_BUCKETS, "route"
        )
        self.upstream_duration = histogram(
            "gateway_upstream_duration_seconds", "Bedrock call time", DURATION_BUCKETS, "model"
        )
        self.ttft = histogram(
            "gateway_time_to_first_token_seconds",
            "Time to the first streamed token",
            TTFT_BUCKETS,
            "model",
        )
        self.tokens = counter(
            "gateway_tokens_total",
            "Tokens by direction (input|output|cached)",
            "model",
            "direction",
        )
        self.cost = counter(
            "gateway_cost_usd_total",
            "Spend in USD from Bedrock's usage",
            "route",
            "model",
            "tenant",
        )
        self.cache_requests = counter(
            "gateway_cache_requests_total", "Cache lookups by result", "result"
        )
        self.cache_saved = counter(
            "gateway_cache_saved_usd_total", "USD not spent thanks to cache hits", "route"
        )
        self.fallbacks = counter(
            "gateway_fallbacks_total",
            "Moves to the next candidate",
            "route",
            "from_model",
            "reason",
        )
        self.upstream_errors = counter(
            "gateway_upstream_errors_total", "Bedrock errors by kind", "model", "error"
        )
        self.routing_decisions = counter(
            "gateway_routing_decisions_total", "Routing decisions", "route", "model", "strategy"
        )
        self.model_refusals = counter(
            "gateway_model_refusals_total",
            "Model-level refusals by Bedrock (the model is benched and the next one tried)",
            "model",
            "reason",
        )
        self.model_benched = Labelled(
            Gauge(
                "gateway_model_benched",
                "1 while a model is benched after a model-level refusal",
                ["model"],
                registry=registry,
                multiprocess_mode="max",
            )
        )
        self.rate_limited = counter(
            "gateway_rate_limited_total", "Requests refused by limits", "tenant"
        )
        self.in_flight = Gauge(
            "gateway_in_flight_requests",
            "Requests being served",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.redis_errors = counter("gateway_redis_errors_total", "Redis calls that failed", "op")
        # The gateway's own saturation (all upstream connections busy), never a model's fault.
        self.pool_wait = Histogram(
            "gateway_upstream_pool_wait_seconds",
            "Time a Bedrock call waited for a free upstream connection (only calls that waited)",
            buckets=(0.001, 0.005, 0.025, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=registry,
        )
        self.pool_exhausted = Counter(
            "gateway_upstream_pool_exhausted_total",
            "Bedrock calls refused (503) because no upstream connection became free in time",
            registry=registry,
        )
        self.circuit_open = Labelled(
            Gauge(
                "gateway_circuit_open",
                "1 while a model's circuit is open",
                ["model"],
                registry=registry,
                multiprocess_mode="max",
            )
        )
        self.policy_reloads = counter(
            "gateway_policy_reloads_total", "Policy reloads by result", "result"
        )
        self.discovery_success = Gauge(
            "gateway_discovery_last_success_timestamp_seconds",
            "Unix time of the last successful region discovery (0: none yet)",
            registry=registry,
            multiprocess_mode="max",
        )
        self.discovery_failures = Counter(
            "gateway_discovery_failures_total",
            "Region discoveries that failed (the last known offer stays in force)",
            registry=registry,
        )
        self.discovery_not_offered = Gauge(
            "gateway_discovery_not_offered_models",
            "Catalogue models the region does not offer, per the last discovery",
            registry=registry,
            multiprocess_mode="max",
        )

    def tenant(self, name: str) -> str:
        """The ``tenant`` label value: the policy name, or ``_all`` when tenant labels are
        off (``GATEWAY_METRICS_TENANT_LABELS=false``: tenant names stay off /metrics)."""
        return name if self.tenant_labels else ALL_TENANTS

    def note_pool_wait(self, seconds: float, got: bool) -> None:
        """The transport's hook: a call waited ``seconds`` for a connection (and got one?)."""
        self.pool_wait.observe(seconds)
        if not got:
            self.pool_exhausted.inc()

    def set_circuits(self, snapshot: Mapping[str, Mapping[str, Any]]) -> None:
        """Mirror the routing stats' circuit states (1 open or half-open, 0 closed)."""
        for model, data in snapshot.items():
            self.circuit_open.labels(model).set(0 if data.get("state") == "closed" else 1)

    def set_benched(self, models: Iterable[str], benched: Collection[str]) -> None:
        """Mirror the bench (1 benched, 0 not) for the catalogue's models."""
        for model in models:
            self.model_benched.labels(model).set(1 if model in benched else 0)

    def exposition(self) -> bytes:
        """The Prometheus text for a scrape: this process, or all workers' files summed."""
        if self.multiprocess_dir is None:
            return generate_latest(self.registry)
        merged = CollectorRegistry()
        MultiProcessCollector(merged, path=self.multiprocess_dir)  # type: ignore[no-untyped-call]
        return generate_latest(merged)

    def worker_exited(self) -> None:
        if self.multiprocess_dir is not None:
            mark_process_dead(os.getpid(), self.multiprocess_dir)  # type: ignore[no-untyped-call]
