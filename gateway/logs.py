"""Logging: one handler on stderr, JSON or text, configured once by the CLI."""

from __future__ import annotations

import logging
import sys

import orjson

from gateway.config import Settings


class JsonFormatter(logging.Formatter):
    """One JSON object per line; access-log lines are already JSON and pass through."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.name == "gateway.access":
            return message
        entry = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": message,
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


def configure_logging(settings: Settings) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
