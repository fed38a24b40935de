"""API: policy reload on SIGHUP and on file change (Kubernetes ConfigMap symlink swaps)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import threading
from pathlib import Path

from gateway.api.admin import reload_policy
from gateway.routing.policy import PolicyError
from gateway.service.state import GatewayState

log = logging.getLogger("gateway.policy")
POLL_SECONDS = 2.0


def fingerprint(path: Path) -> tuple[tuple[str, str, int, int], ...]:
    """What changes when any policy file (or the symlink it resolves through) changes."""
    files = sorted(path.glob("*.yaml")) if path.is_dir() else [path]
    marks = []
    for file in files:
        try:
            st = file.stat()
        except OSError:
            continue
        marks.append((str(file), os.path.realpath(file), st.st_mtime_ns, st.st_size))
    return tuple(marks)


class PolicyWatcher:
    """Reloads the policy when asked (SIGHUP) or when its files change; a bad file is refused."""

    def __init__(self, state: GatewayState, *, poll_s: float = POLL_SECONDS) -> None:
        self._state = state
        self._poll_s = poll_s
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._signal_installed = False

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        if threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGHUP"):
            loop.add_signal_handler(signal.SIGHUP, self._wake.set)
            self._signal_installed = True
        self._task = loop.create_task(self._run())

    async def stop(self) -> None:
        if self._signal_installed:
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        path = Path(self._state.settings.policies)
        seen = await asyncio.to_thread(fingerprint, path)
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll_s)
            forced = self._wake.is_set()
            self._wake.clear()
            current = await asyncio.to_thread(fingerprint, path)
            if not forced and current == seen:
                continue
            seen = current
            try:
                await asyncio.to_thread(reload_policy, self._state)
            except PolicyError:
                continue  # reload_policy logged and counted it; the old policy keeps serving
