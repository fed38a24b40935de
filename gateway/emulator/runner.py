"""Emulator: run the emulator blocking (CLI) or in a background thread (tests, demo)."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
from collections.abc import Iterable
from types import TracebackType

from aiohttp import web

from gateway.capabilities.model import ModelCapabilities
from gateway.emulator.credentials import (
    EMULATOR_ACCESS_KEY_ID,
    EMULATOR_REGION,
    EMULATOR_SECRET_ACCESS_KEY,
)
from gateway.emulator.server import create_emulator_app
from gateway.emulator.state import EmulatorState

SHUTDOWN_TIMEOUT_S = 0.5
START_TIMEOUT_S = 10.0


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


def _banner(url: str, strict: bool) -> str:
    mode = "strict: refuses per model and region as Bedrock does" if strict else "lenient"
    return (
        f"Bedrock Runtime emulator (test/demo tool, not AWS) listening on {url} ({mode})\n"
        f"  AWS_ENDPOINT_URL_BEDROCK_RUNTIME={url}\n"
        f"  AWS_ACCESS_KEY_ID={EMULATOR_ACCESS_KEY_ID}\n"
        f"  AWS_SECRET_ACCESS_KEY={EMULATOR_SECRET_ACCESS_KEY}\n"
        f"  AWS_REGION={EMULATOR_REGION}\n"
        f"  AWS_ENDPOINT_URL_BEDROCK={url}  (ListFoundationModels, ListInferenceProfiles)\n"
        f"  control API: {url}/_emulator/health, /_emulator/faults, /_emulator/calls, "
        "/_emulator/strict"
    )


async def _start(
    state: EmulatorState,
    host: str,
    port: int,
    models: Iterable[ModelCapabilities] | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(
        create_emulator_app(state, models=models),
        access_log=None,
        handler_cancellation=True,
        shutdown_timeout=SHUTDOWN_TIMEOUT_S,
    )
    await runner.setup()
    site = web.TCPSite(
        runner, host, port, backlog=1024, reuse_address=True, ssl_context=ssl_context
    )
    await site.start()
    bound_port = int(runner.addresses[0][1])
    return runner, bound_port


def _url(host: str, port: int, *, tls: bool = False) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"{'https' if tls else 'http'}://{shown}:{port}"


def run_emulator(host: str = "127.0.0.1", port: int = 9901, *, strict: bool = False) -> None:
    """Serve the emulator until interrupted; prints the URL and the test credentials."""
    loop = _new_loop()
    asyncio.set_event_loop(loop)
    try:
        state = EmulatorState(strict=strict)
        runner, bound = loop.run_until_complete(_start(state, host, port))
        print(_banner(_url(host, bound), strict), flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            loop.run_forever()
        loop.run_until_complete(runner.cleanup())
    finally:
        loop.close()


class RunningEmulator:
    """An emulator serving from its own event loop in a daemon thread."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        strict: bool = False,
        models: Iterable[ModelCapabilities] | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """``ssl_context`` serves HTTPS (tests of the CA bundle); the default is plain HTTP."""
        self.state = EmulatorState(strict=strict)
        self._models = None if models is None else tuple(models)
        self._ssl = ssl_context
        self.host = host
        self.port = 0
        self._loop = _new_loop()
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._serve, args=(port,), name="bedrock-emulator", daemon=True
        )

    @property
    def url(self) -> str:
        return _url(self.host, self.port, tls=self._ssl is not None)

    def start(self) -> RunningEmulator:
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S):
            raise RuntimeError("the emulator did not start in time")
        if self._error is not None:
            raise RuntimeError(f"the emulator failed to start: {self._error}") from self._error
        return self

    def _serve(self, port: int) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._runner, self.port = self._loop.run_until_complete(
                _start(self.state, self.host, port, self._models, self._ssl)
            )
        except OSError as error:
            self._error = error
            self._ready.set()
            self._loop.close()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._runner.cleanup())
        self._loop.close()

    def stop(self) -> None:
        """Stop serving and join the thread (idempotent)."""
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=START_TIMEOUT_S)

    def __enter__(self) -> RunningEmulator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def start_emulator_in_thread(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    strict: bool = False,
    models: Iterable[ModelCapabilities] | None = None,
) -> RunningEmulator:
    """Start an emulator in a daemon thread; port 0 picks a free port. ``strict`` refuses
    per model and region as Bedrock does; ``models`` replaces the model table (tests)."""
    return RunningEmulator(host, port, strict=strict, models=models).start()
