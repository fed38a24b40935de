"""Test support: run the gateway under a real uvicorn server on a free loopback port."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import time
from collections.abc import Coroutine, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import uvicorn
from prometheus_client import CollectorRegistry

from gateway.app import create_app
from gateway.config import Settings
from gateway.serving import http_protocol

REPO = Path(__file__).resolve().parents[2]
DEFAULT_POLICIES = REPO / "policies"
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class GatewayServer:
    """The gateway app under uvicorn (httptools, its own event loop) in a daemon thread."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.registry = CollectorRegistry()
        self.app = create_app(settings, registry=self.registry)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            http=http_protocol(settings),
            loop="asyncio",
            access_log=False,
            log_config=None,
            lifespan="on",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self.loop = asyncio.get_running_loop()
        await self.server.serve()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        """Run ``coro`` on the server's own event loop (where its clients live)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    @property
    def state(self):  # type: ignore[no-untyped-def]
        return self.app.state.gateway

    def start(self) -> GatewayServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("gateway did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


@contextlib.contextmanager
def running_gateway(**overrides: object) -> Iterator[GatewayServer]:
    settings = Settings(**overrides)  # type: ignore[arg-type]
    server = GatewayServer(settings).start()
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def aws_env(values: Mapping[str, str]) -> Iterator[None]:
    """Set AWS_* variables (the standard way the gateway finds Bedrock) and restore them."""
    cleared = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_BEARER_TOKEN_BEDROCK", "AWS_ENDPOINT_URL")
    saved = {k: os.environ.get(k) for k in (*values, *cleared)}
    for key in cleared:
        os.environ.pop(key, None)
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
