"""The Bedrock emulator as a process that also accepts one bearer token (for the floor proxy)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from aiohttp import web

from gateway.emulator.runner import SHUTDOWN_TIMEOUT_S
from gateway.emulator.server import create_emulator_app
from gateway.emulator.state import EmulatorState


async def _serve(host: str, port: int, token: str) -> None:
    app = create_emulator_app(EmulatorState(), bearer_tokens=[token] if token else [])
    runner = web.AppRunner(
        app, access_log=None, handler_cancellation=True, shutdown_timeout=SHUTDOWN_TIMEOUT_S
    )
    await runner.setup()
    await web.TCPSite(runner, host, port, backlog=4096, reuse_address=True).start()
    print(f"emulator listening on http://{host}:{port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--bearer-token", default="")
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:
        runner = asyncio.run
    else:
        runner = uvloop.run
    with contextlib.suppress(KeyboardInterrupt):
        runner(_serve(args.host, args.port, args.bearer_token))


if __name__ == "__main__":
    main()
