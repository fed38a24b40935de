"""API: one structured log line per model call — never a key, credential or prompt."""

from __future__ import annotations

import logging

import orjson

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
        if self._json:
            line = orjson.dumps(record).decode()
        else:  # what is unknown (no route yet, no first token) is left out, not "None"
            line = " ".join(f"{k}={v}" for k, v in record.items() if v is not None and v != "")
        # The record built directly: Logger.info would also walk the stack for the caller's
        # file and line (findCaller), which the access log does not print.
        logger = self._logger
        if logger.isEnabledFor(logging.INFO):
            logger.handle(logger.makeRecord(logger.name, logging.INFO, "", 0, line, (), None))
