"""Tracing: OpenTelemetry spans, off unless the standard ``OTEL_*`` variables configure them.

A server span per model request (continuing a client's W3C ``traceparent``) and a client span
per Bedrock attempt beneath it, so fallbacks show as sibling spans. Attributes follow
OpenTelemetry's GenAI semantic conventions (``gen_ai.*``) plus the gateway's route, cache
outcome and cost. Prompt and answer text are never recorded unless ``GATEWAY_LOG_PROMPTS``
asks (the same debug switch as the access log's).

Off, a request pays one attribute read: the SDK is imported only when tracing is configured.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Span, Tracer

log = logging.getLogger("gateway.tracing")

PROVIDER = "aws.bedrock"
#: Variables that turn tracing on (an OTLP endpoint, or an explicit exporter choice).
_ENDPOINT_VARS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")


def tracing_configured(env: Mapping[str, str]) -> bool:
    """On when an OTLP endpoint or ``OTEL_TRACES_EXPORTER=otlp`` is set, unless the SDK is
    disabled (``OTEL_SDK_DISABLED=true``) or the exporter is ``none``."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter == "none":
        return False
    return exporter == "otlp" or any(env.get(name) for name in _ENDPOINT_VARS)


class Tracing:
    """The gateway's spans. ``enabled`` False: every method is a cheap no-op."""

    def __init__(
        self,
        provider: TracerProvider | None = None,
        *,
        capture_content: bool = False,
    ) -> None:
        self._provider = provider
        self.enabled = provider is not None
        self.capture_content = capture_content
        self._tracer: Tracer | None = None
        if provider is not None:
            self._tracer = provider.get_tracer("gateway")

    @classmethod
    def from_environment(
        cls, env: Mapping[str, str], *, version: str, capture_content: bool = False
    ) -> Tracing:
        """The OTLP/HTTP exporter, sampler, resource and batching all read ``OTEL_*``."""
        if not tracing_configured(env):
            return cls()
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        provider = TracerProvider(resource=_resource(version))
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        log.info("tracing on: OTLP/HTTP spans to the OTEL_EXPORTER_OTLP_* endpoint")
        return cls(provider, capture_content=capture_content)

    def server_span(
        self, method: str, path: str, headers: Sequence[tuple[bytes, bytes]]
    ) -> contextlib.AbstractContextManager[Span | None]:
        """A SERVER span made current for the request (``None`` when off)."""
        if self._tracer is None:
            return contextlib.nullcontext()
        return self._server_span(method, path, headers)

    @contextlib.contextmanager
    def _server_span(
        self, method: str, path: str, headers: Sequence[tuple[bytes, bytes]]
    ) -> Iterator[Span]:
        from opentelemetry.trace import SpanKind

        assert self._tracer is not None
        with self._tracer.start_as_current_span(
            f"{method} {path}",
            context=_incoming_context(headers),
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method, "url.path": path},
            record_exception=False,
        ) as span:
            yield span

    def attempt_span(
        self, operation: str, model_id: str, *, model: str, attempt: int
    ) -> contextlib.AbstractContextManager[Span | None]:
        """A CLIENT span for one Bedrock call, a child of the current server span."""
        if self._tracer is None:
            return contextlib.nullcontext()
        from opentelemetry.trace import SpanKind

        return self._tracer.start_as_current_span(
            f"{operation} {model_id}",
            kind=SpanKind.CLIENT,
            attributes={
                "gen_ai.operation.name": operation,
                "gen_ai.provider.name": PROVIDER,
                "gen_ai.system": PROVIDER,
                "gen_ai.request.model": model_id,
                "gateway.model": model,
                "gateway.attempt": attempt,
            },
            record_exception=False,
        )

    def force_flush(self, timeout_ms: int = 5000) -> bool:
        return self._provider.force_flush(timeout_ms) if self._provider is not None else True

    def shutdown(self) -> None:
        if self._provider is not None:
            self._provider.shutdown()


def _resource(version: str) -> Resource:
    """The SDK's resource (``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_SERVICE_NAME``) with the
    gateway's version; ``llm-gateway`` names the service only when the environment does not
    (attributes given to ``Resource.create`` would override the environment's)."""
    from opentelemetry.sdk.resources import Resource

    detected = Resource.create({"service.version": version})
    name = str(detected.attributes.get("service.name", ""))
    if not name or name.startswith("unknown_service"):
        detected = detected.merge(Resource({"service.name": "llm-gateway"}))
    return detected


def _incoming_context(headers: Sequence[tuple[bytes, bytes]]) -> Context | None:
    """The client's W3C trace context (``traceparent``/``tracestate``), if it sent one."""
    carrier = {
        name.decode("latin-1"): value.decode("latin-1")
        for name, value in headers
        if name in (b"traceparent", b"tracestate")
    }
    if not carrier:
        return None
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    return TraceContextTextMapPropagator().extract(carrier)


def set_attributes(span: Span | None, attributes: Mapping[str, Any]) -> None:
    """Set the non-empty ``attributes`` on ``span`` (a no-op when tracing is off)."""
    if span is None:
        return
    span.set_attributes({k: v for k, v in attributes.items() if v is not None and v != ""})


def mark_error(span: Span | None, error_type: str, message: str) -> None:
    """An attempt or request that failed: ``error.type`` and an ERROR status (no trace)."""
    if span is None:
        return
    from opentelemetry.trace import Status, StatusCode

    span.set_attribute("error.type", error_type)
    span.set_status(Status(StatusCode.ERROR, message[:200]))
