"""Serving: uvicorn run so that SIGTERM drains in-flight requests and then exits 0.

uvicorn re-raises a captured SIGTERM after its graceful shutdown, so the process dies "by
signal" (exit -15); Kubernetes and process supervisors read a clean drain better as exit 0.
"""

from __future__ import annotations

import contextlib
import functools
import signal
import threading
from collections.abc import Iterator
from typing import Any

import uvicorn

from gateway.config import Settings
from gateway.protocol import BoundedHttpToolsProtocol, ConnectionBounds

HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class DrainingServer(uvicorn.Server):
    """uvicorn's server, minus the re-raise of the signal that stopped it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in HANDLED_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def connection_bounds(settings: Settings) -> ConnectionBounds:
    return ConnectionBounds(
        max_header_bytes=settings.max_header_bytes,
        max_headers=settings.max_headers,
        header_timeout_s=settings.header_timeout_s,
        body_timeout_s=settings.body_timeout_s,
    )


def http_protocol(settings: Settings) -> Any:
    """uvicorn's ``http`` option: httptools with the connection bounds of the settings."""
    return functools.partial(BoundedHttpToolsProtocol, bounds=connection_bounds(settings))


def serve(app: Any, *, workers: int, metrics_port: int | None = None, **options: Any) -> None:
    """One worker serves ``app`` in this process; several run the factory in child processes.

    With ``metrics_port`` the same app also listens there (``/metrics`` answers on that port
    only, so a NetworkPolicy can open it to the cluster's scraper alone)."""
    target = app if workers <= 1 else "gateway.app:app_from_environment"
    extra: dict[str, Any] = {} if workers <= 1 else {"factory": True, "workers": workers}
    config = uvicorn.Config(target, **extra, **options)
    if metrics_port is None:
        sockets = None
    else:
        metrics = uvicorn.Config(target, **extra, **{**options, "port": metrics_port})
        sockets = [config.bind_socket(), metrics.bind_socket()]
    if workers <= 1:
        DrainingServer(config).run(sockets=sockets)
        return
    # The supervisor process handles SIGTERM itself (stops the workers, then returns).
    if sockets is None:
        uvicorn.run(target, **extra, **options)
        return
    from uvicorn.supervisors import Multiprocess

    Multiprocess(config, sockets=sockets).run()
