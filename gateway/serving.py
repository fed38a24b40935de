"""Serving: uvicorn run so that SIGTERM drains in-flight requests and then exits 0.

uvicorn re-raises a captured SIGTERM after its graceful shutdown, so the process dies "by
signal" (exit -15); Kubernetes and process supervisors read a clean drain better as exit 0.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import logging
import resource
import signal
import threading
from collections.abc import Iterator
from typing import Any

import uvicorn

from gateway.config import Settings
from gateway.protocol import BoundedHttpToolsProtocol, ConnectionBounds

HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_LOG = logging.getLogger("gateway.serving")
#: Files a worker needs besides two sockets per upstream slot (policies, logs, Redis, ...).
OPEN_FILES_SPARE = 1024
#: Container allocations (net) between two young collections; CPython's default is 700.
GC_YOUNG_THRESHOLD = 10_000


def tune_gc() -> None:
    """Collect the young generation every 10,000 net allocations instead of every 700.

    A stream holds about 150 tracked objects for its whole life, so with a thousand
    streams open every young collection walks thousands of survivors, and the older ones are
    walked again and again: 0.63-1.0 s of the gateway's CPU in a 1,000-stream run of
    ``load/streams.py``, against 0.13-0.28 s with this threshold (the gateway makes little
    cyclic garbage, about 4,000 objects a run; reference counting frees the rest at once)."""
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)


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


def raise_open_files(upstream_pool_size: int) -> tuple[int, int]:
    """Lift the soft open-file limit to what a full pool needs (two sockets a stream: the
    client's and Bedrock's, plus some), up to the hard limit; (soft before, soft after).

    Container runtimes often start processes at a soft limit of 1,024, which would stop a
    worker at about 500 streams with "Too many open files" long before the pool is full."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = 2 * upstream_pool_size + OPEN_FILES_SPARE
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return soft, soft
    target = needed if hard == resource.RLIM_INFINITY else min(hard, needed)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return soft, max(soft, target)


def note_open_files(upstream_pool_size: int) -> None:
    """Raise the open-file limit for the pool; say so, or warn when the hard limit is short."""
    before, after = raise_open_files(upstream_pool_size)
    if after < 2 * upstream_pool_size:
        _LOG.warning(
            "open-file limit %d (the hard limit) is under two sockets for each of the %d "
            "upstream slots (GATEWAY_UPSTREAM_POOL_SIZE): raise it (ulimit -Hn) or lower the pool",
            after,
            upstream_pool_size,
        )
    elif after > before:
        _LOG.info("open-file limit raised from %d to %d", before, after)


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
    tune_gc()  # this process; each worker of several does it in app_from_environment
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
