"""API: one structured log line per model call — never a key, credential or prompt."""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson

from gateway.logs import JsonFormatter
from gateway.service.context import CallContext


class AccessLog:
    """Writes the per-request line as JSON or as ``key=value`` text."""

    def __init__(self, logger: logging.Logger, *, json_format: bool) -> None:
        self._logger = logger
        self._json = json_format

    def write(self, ctx: CallContext, elapsed_s: float) -> None:
        if not self._logger.isEnabledFor(logging.INFO):
            return
        record: dict[str, object] = {
            "event": "request",
            "request_id": ctx.request_id,
            "tenant": ctx.tenant,
            "requested": ctx.requested,
            "route": ctx.route,
            "model": ctx.model,
            "bedrock_id": ctx.bedrock_id,
            "attempts": ctx.attempts,
            "cache": ctx.cache,
            "status": ctx.status,
            "upstream_request_id": ctx.upstream_request_id or None,
            "input_tokens": ctx.input_tokens,
            "output_tokens": ctx.output_tokens,
            "cached_tokens": ctx.cached_tokens,
            "cache_write_tokens": ctx.cache_write_tokens,
            "service_tier": ctx.service_tier,
            "cost_usd": round(ctx.cost_usd, 8),
            "latency_ms": round(elapsed_s * 1000.0, 2),
            "ttft_ms": None if ctx.ttft_s is None else round(ctx.ttft_s * 1000.0, 2),
        }
        if ctx.debug is not None:
            record["debug"] = ctx.debug
        if self._json:  # the formatter passes the line through: its time is added here
            line = orjson.dumps({"ts": round(time.time(), 3), **record}).decode()
        else:  # what is unknown (no route yet, no first token) is left out, not "None"
            line = " ".join(f"{k}={v}" for k, v in record.items() if v is not None and v != "")
        logger = self._logger
        handler = _sole_json_handler(logger) if self._json else None
        if handler is not None:
            # What the handler would write (JsonFormatter passes access lines through), without
            # a LogRecord and the handler chain: about 8 us a request on a quiet core.
            handler.acquire()
            try:
                handler.stream.write(line + handler.terminator)
                handler.flush()
            except (OSError, ValueError):  # a closed or broken stream: the line is lost, as
                pass  # logging's handleError would lose it, and the answer is not disturbed
            finally:
                handler.release()
            return
        # The record built directly: Logger.info would also walk the stack for the caller's
        # file and line (findCaller), which the access log does not print.
        logger.handle(logger.makeRecord(logger.name, logging.INFO, "", 0, line, (), None))


def _sole_json_handler(logger: logging.Logger) -> logging.StreamHandler[Any] | None:
    """The one handler a line of ``logger`` reaches, when that is the gateway's own JSON
    stream handler (``gateway.logs``) with no filters anywhere on the way; None otherwise
    (tests' capture handlers, an operator's extra handler), so those still see records."""
    node: logging.Logger | None = logger
    while node is not None and node.parent is not None:
        if node.handlers or node.filters or node.disabled or not node.propagate:
            return None
        node = node.parent
    if node is None or node.filters or node.disabled or len(node.handlers) != 1:
        return None
    handler = node.handlers[0]
    if (
        type(handler) is not logging.StreamHandler
        or handler.filters
        or handler.level > logging.INFO
        or type(handler.formatter) is not JsonFormatter
    ):
        return None
    return handler
