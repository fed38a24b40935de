"""API: the outer ASGI layer — request ids, in-flight count, per-request metrics and log."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.api.access_log import AccessLog
from gateway.api.context import CallContext, new_request_id
from gateway.api.deps import request_id_from
from gateway.metrics import Metrics

_MODEL_PATHS = frozenset({"/v1/chat/completions", "/v1/embeddings", "/v1/responses"})


class CallContextMiddleware:
    """Gives every request a ``CallContext`` and an ``x-request-id``; records model calls."""

    def __init__(self, app: ASGIApp, metrics: Metrics, access_log: AccessLog) -> None:
        self.app = app
        self.metrics = metrics
        self.access_log = access_log

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
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self.metrics.in_flight.dec()
            self._record(ctx)

    def _record(self, ctx: CallContext) -> None:
        route = ctx.route or "none"
        model = ctx.model or "none"
        elapsed = ctx.elapsed()
        self.metrics.requests.labels(route, model, str(ctx.status)).inc()
        self.metrics.request_duration.labels(route).observe(elapsed)
        if ctx.cache:
            self.metrics.cache_requests.labels(ctx.cache).inc()
        self.access_log.write(ctx, elapsed)
