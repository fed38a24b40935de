"""API: the outer ASGI layer — request ids, in-flight count, per-request metrics and log."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.api.access_log import AccessLog
from gateway.api.deps import request_id_from
from gateway.metrics import Metrics
from gateway.service.context import CallContext, new_request_id
from gateway.tracing import PROVIDER, Tracing, mark_error, set_attributes

if TYPE_CHECKING:
    from opentelemetry.trace import Span

#: The model-calling paths and their GenAI operation names: a Responses call is a chat turn
#: (the well-known value that applies must be used; there is none for Responses).
_OPERATIONS = {
    "/v1/chat/completions": "chat",
    "/v1/responses": "chat",
    "/v1/embeddings": "embeddings",
}
_MODEL_PATHS = frozenset(_OPERATIONS)


class CallContextMiddleware:
    """Gives every request a ``CallContext`` and an ``x-request-id``; records model calls."""

    def __init__(
        self,
        app: ASGIApp,
        metrics: Metrics,
        access_log: AccessLog,
        tracing: Tracing | None = None,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.access_log = access_log
        self.tracing = tracing or Tracing()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                incoming = request_id_from(value.decode("latin-1"))
                break
        ctx = CallContext(request_id=incoming or new_request_id())
        scope.setdefault("state", {})["call"] = ctx
        rid = ctx.request_id.encode()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                ctx.status = message["status"] if ctx.status == 200 else ctx.status
                headers = message.setdefault("headers", [])
                if not any(k == b"x-request-id" for k, _ in headers):
                    headers.append((b"x-request-id", rid))
            await send(message)

        is_model_call = scope["path"] in _MODEL_PATHS
        if not is_model_call:
            await self.app(scope, receive, send_with_id)
            return
        self.metrics.in_flight.inc()
        with self.tracing.server_span(scope["method"], scope["path"], scope["headers"]) as span:
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                self.metrics.in_flight.dec()
                self._record(ctx)
                if span is not None:
                    self._annotate(span, ctx, scope["path"])

    def _annotate(self, span: Span, ctx: CallContext, path: str) -> None:
        """The request's outcome on its server span (GenAI conventions + the gateway's own)."""
        operation = _OPERATIONS[path]
        finish = [ctx.finish_reason] if ctx.finish_reason else None
        set_attributes(
            span,
            {
                "http.response.status_code": ctx.status,
                "gen_ai.operation.name": operation,
                "gen_ai.provider.name": PROVIDER,
                "gen_ai.request.model": ctx.requested,
                "gen_ai.response.model": ctx.bedrock_id,
                "gen_ai.usage.input_tokens": ctx.input_tokens or None,
                "gen_ai.usage.output_tokens": ctx.output_tokens or None,
                "gen_ai.response.finish_reasons": finish,
                "gateway.route": ctx.route,
                "gateway.model": ctx.model,
                "gateway.tenant": ctx.tenant,
                "gateway.cache": ctx.cache or "off",
                "gateway.attempts": ctx.attempts,
                "gateway.cost_usd": ctx.cost_usd,
                "gateway.upstream_request_id": ctx.upstream_request_id,
            },
        )
        if self.tracing.capture_content and ctx.debug:
            set_attributes(
                span,
                {
                    "gen_ai.input.messages": ctx.debug.get("prompt"),
                    "gen_ai.output.messages": ctx.debug.get("answer"),
                },
            )
        if ctx.status >= 500:
            mark_error(span, str(ctx.status), f"HTTP {ctx.status}")

    def _record(self, ctx: CallContext) -> None:
        route = ctx.route or "none"
        model = ctx.model or "none"
        elapsed = ctx.elapsed()
        self.metrics.requests.labels(route, model, str(ctx.status)).inc()
        self.metrics.request_duration.labels(route).observe(elapsed)
        if ctx.cache:
            self.metrics.cache_requests.labels(ctx.cache).inc()
        self.access_log.write(ctx, elapsed)
