"""Shadow layer: the ``gateway_shadow_*`` metric families, built against an injected registry.

Labels: ``route`` and the model names come from the policy; ``error``, ``reason``, ``check``,
``result`` and ``direction`` from fixed sets. ``gateway_shadow_projected_monthly_usd`` is set
each time a report is built (``GET /v1/gateway/shadow``, ``/ui``) and after every comparison.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from gateway.metrics import DURATION_BUCKETS, TTFT_BUCKETS

RATIO_BUCKETS = (0.1, 0.25, 0.5, 0.75, 0.9, 1.1, 1.25, 1.5, 2.0, 4.0, 10.0)
SIMILARITY_BUCKETS = (0.0, 0.25, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98, 1.0)
PAIR = ["route", "primary", "shadow"]


class ShadowMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.calls = Counter(
            "gateway_shadow_calls_total",
            "Shadow calls by result (ok|error)",
            [*PAIR, "result"],
            registry=registry,
        )
        self.errors = Counter(
            "gateway_shadow_errors_total",
            "Failed shadow calls by error kind",
            [*PAIR, "error"],
            registry=registry,
        )
        self.dropped = Counter(
            "gateway_shadow_dropped_total",
            "Shadow work not done (in_flight|budget|opt_out|tenant|ineligible)",
            ["route", "shadow", "reason"],
            registry=registry,
        )
        self.duration = Histogram(
            "gateway_shadow_duration_seconds",
            "Shadow call time",
            PAIR,
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.ttft = Histogram(
            "gateway_shadow_time_to_first_token_seconds",
            "Shadow time to first token (streamed requests)",
            PAIR,
            buckets=TTFT_BUCKETS,
            registry=registry,
        )
        self.tokens = Counter(
            "gateway_shadow_tokens_total",
            "Shadow tokens by direction (input|output)",
            ["route", "shadow", "direction"],
            registry=registry,
        )
        self.cost = Counter(
            "gateway_shadow_cost_usd_total",
            "Shadow spend in USD (catalogue prices, Bedrock's usage)",
            PAIR,
            registry=registry,
        )
        self.agreement = Counter(
            "gateway_shadow_agreement_total",
            "Comparisons by check (exact|tool_calls|json_valid) and result (agree|disagree)",
            [*PAIR, "check", "result"],
            registry=registry,
        )
        self.length_ratio = Histogram(
            "gateway_shadow_length_ratio",
            "Shadow answer length / primary answer length",
            PAIR,
            buckets=RATIO_BUCKETS,
            registry=registry,
        )
        self.similarity = Histogram(
            "gateway_shadow_similarity",
            "Cosine similarity of the two answers' embeddings",
            PAIR,
            buckets=SIMILARITY_BUCKETS,
            registry=registry,
        )
        self.in_flight = Gauge(
            "gateway_shadow_in_flight",
            "Shadow calls running",
            ["route"],
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.projected = Gauge(
            "gateway_shadow_projected_monthly_usd",
            "Projected monthly USD of the route on this model at the observed traffic "
            "(role primary: as served, shadow: if switched)",
            ["route", "model", "role"],
            registry=registry,
            multiprocess_mode="mostrecent",
        )
