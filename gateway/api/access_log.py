"""API: one structured log line per model call — never a key, credential or prompt."""

from __future__ import annotations

import logging

import orjson

from gateway.api.context import CallContext


class AccessLog:
    """Writes the per-request line as JSON or as ``key=value`` text."""

    def __init__(self, logger: logging.Logger, *, json_format: bool) -> None:
        self._logger = logger
        self._json = json_format

    def write(self, ctx: CallContext, elapsed_s: float) -> None:
        if not self._logger.isEnabledFor(logging.INFO):
            return
        record = {
            "event": "request",
            "request_id": ctx.request_id,
            "tenant": ctx.tenant,
            "route": ctx.route,
            "model": ctx.model,
            "bedrock_id": ctx.bedrock_id,
            "attempts": ctx.attempts,
            "cache": ctx.cache,
            "status": ctx.status,
            "input_tokens": ctx.input_tokens,
            "output_tokens": ctx.output_tokens,
            "cost_usd": round(ctx.cost_usd, 8),
            "latency_ms": round(elapsed_s * 1000.0, 2),
            "ttft_ms": None if ctx.ttft_s is None else round(ctx.ttft_s * 1000.0, 2),
        }
        if self._json:
            self._logger.info(orjson.dumps(record).decode())
        else:
            self._logger.info(" ".join(f"{k}={v}" for k, v in record.items()))
