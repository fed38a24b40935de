"""Serving: uvicorn run so that SIGTERM drains in-flight requests and then exits 0.

uvicorn re-raises a captured SIGTERM after its graceful shutdown, so the process dies "by
signal" (exit -15); Kubernetes and process supervisors read a clean drain better as exit 0.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

import uvicorn

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


def serve(app: Any, *, workers: int, **options: Any) -> None:
    """One worker serves ``app`` in this process; several run the factory in child processes."""
    if workers <= 1:
        DrainingServer(uvicorn.Config(app, **options)).run()
        return
    # The supervisor process handles SIGTERM itself (stops the workers, then returns).
    uvicorn.run("gateway.app:app_from_environment", factory=True, workers=workers, **options)
