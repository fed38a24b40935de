"""Metrics: every Prometheus family the gateway exports, built against an injected registry.

Label values come from the policy (route, model, tenant names) or from fixed sets
(status codes, error reasons, cache results), never from raw client input.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# Seconds: tens of milliseconds up to two minutes, for whole LLM calls.
DURATION_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0)
# Time to first token is finer at the low end.
TTFT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """The gateway's metric families; one instance per app, on ``app.state``."""

    def __init__(self, registry: CollectorRegistry, *, version: str = "0") -> None:
        self.registry = registry
        # Set by `gateway serve --workers N`: every worker writes its samples there and a
        # scrape of any worker sums them (prometheus-client's multiprocess mode).
        self.multiprocess_dir = os.environ.get(MULTIPROC_ENV) or None
        self.build_info = Gauge(
            "gateway_build_info",
            "Gateway version (value 1)",
            ["version", "python"],
            registry=registry,
            multiprocess_mode="max",
        )
        self.build_info.labels(version, platform.python_version()).set(1)
        self.requests = Counter(
            "gateway_requests_total",
            "Requests answered",
            ["route", "model", "status"],
            registry=registry,
        )
        self.request_duration = Histogram(
            "gateway_request_duration_seconds",
            "Whole request time",
            ["route"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.upstream_duration = Histogram(
            "gateway_upstream_duration_seconds",
            "Bedrock call time",
            ["model"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.ttft = Histogram(
            "gateway_time_to_first_token_seconds",
            "Time to the first streamed token",
            ["model"],
            buckets=TTFT_BUCKETS,
            registry=registry,
        )
        self.tokens = Counter(
            "gateway_tokens_total",
            "Tokens by direction (input|output|cached)",
            ["model", "direction"],
            registry=registry,
        )
        self.cost = Counter(
            "gateway_cost_usd_total",
            "Spend in USD from Bedrock's usage",
            ["route", "model", "tenant"],
            registry=registry,
        )
        self.cache_requests = Counter(
            "gateway_cache_requests_total",
            "Cache lookups by result",
            ["result"],
            registry=registry,
        )
        self.cache_saved = Counter(
            "gateway_cache_saved_usd_total",
            "USD not spent thanks to cache hits",
            ["route"],
            registry=registry,
        )
        self.fallbacks = Counter(
            "gateway_fallbacks_total",
            "Moves to the next candidate",
            ["route", "from_model", "reason"],
            registry=registry,
        )
        self.upstream_errors = Counter(
            "gateway_upstream_errors_total",
            "Bedrock errors by kind",
            ["model", "error"],
            registry=registry,
        )
        self.routing_decisions = Counter(
            "gateway_routing_decisions_total",
            "Routing decisions",
            ["route", "model", "strategy"],
            registry=registry,
        )
        self.rate_limited = Counter(
            "gateway_rate_limited_total",
            "Requests refused by limits",
            ["tenant"],
            registry=registry,
        )
        self.in_flight = Gauge(
            "gateway_in_flight_requests",
            "Requests being served",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.redis_errors = Counter(
            "gateway_redis_errors_total",
            "Redis calls that failed",
            ["op"],
            registry=registry,
        )
        self.circuit_open = Gauge(
            "gateway_circuit_open",
            "1 while a model's circuit is open",
            ["model"],
            registry=registry,
            multiprocess_mode="max",
        )
        self.policy_reloads = Counter(
            "gateway_policy_reloads_total",
            "Policy reloads by result",
            ["result"],
            registry=registry,
        )

    def set_circuits(self, snapshot: Mapping[str, Mapping[str, Any]]) -> None:
        """Mirror the routing stats' circuit states (1 open or half-open, 0 closed)."""
        for model, data in snapshot.items():
            self.circuit_open.labels(model).set(0 if data.get("state") == "closed" else 1)

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
