"""The processes: spawning (pinned to CPUs), readiness, the emulator, floor and gateway, stop."""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import orjson

from bench_lib import procstat
from bench_lib.bodies import http
from bench_lib.config import CLIENT_KEY, FLOOR_TOKEN, LOAD, REPLY, REPO

#: The interpreter setting of the image (Dockerfile): no docstrings or asserts, 3 MB less RSS.
DEPLOYED_PYTHONOPTIMIZE = "2"


@functools.cache  # once per tree and run: every gateway spawn asks
def compile_optimized(tree: Path = REPO) -> None:
    """The bytecode the image's builder makes for ``PYTHONOPTIMIZE=2`` (``python -OO -m
    compileall``), for the runtime lock's packages and ``tree``'s gateway: without it each
    gateway start would compile every module, and its resident memory would carry that."""
    lock = (REPO / "requirements-runtime.lock").read_text()
    sources = [str(tree / "gateway")]
    for name in re.findall(r"^([A-Za-z0-9][A-Za-z0-9_.-]*)==", lock, re.MULTILINE):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            dist = importlib.metadata.distribution(name)
            sources += [str(dist.locate_file(f)) for f in dist.files or () if f.suffix == ".py"]
    subprocess.run(
        [sys.executable, "-OO", "-m", "compileall", "-q", "-j", "0", "-i", "-"],
        input="\n".join(sources).encode(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    url: str
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid


@dataclass
class Pinning:
    """With 2+ CPUs: the proxies on the last CPU, the emulator and wrk on the others."""

    proxy_cpus: set[int] | None
    load_cpus: set[int] | None

    @classmethod
    def of(cls, pin: bool) -> Pinning:
        cpus = sorted(os.sched_getaffinity(0))
        if pin and len(cpus) >= 2:
            return cls({cpus[-1]}, set(cpus[:-1]))
        return cls(None, None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def local_url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


class Processes:
    """The processes of one run by name, each logging to ``<workdir>/<name>.log``."""

    def __init__(
        self,
        workdir: Path,
        pinning: Pinning,
        floor_args: tuple[str, ...] = (),
        gateway_extra: Mapping[str, str] | None = None,
    ) -> None:
        self.workdir = workdir
        self.pinning = pinning
        self.floor_args = floor_args  # extra floor_proxy.py options (streams: --pool-size)
        self.gateway_extra = dict(gateway_extra or {})  # GATEWAY_* settings of a run
        self.procs: dict[str, Proc] = {}
        self.gateway_env: dict[str, str] = {}

    def __getitem__(self, name: str) -> Proc:
        return self.procs[name]

    def spawn(
        self, name: str, command: list[str], env: dict[str, str], url: str, cpus: set[int] | None
    ) -> Proc:
        log = self.workdir / f"{name}.log"
        preexec: Callable[[], None] | None = None
        if cpus:
            pinned = set(cpus)

            def preexec() -> None:
                os.sched_setaffinity(0, pinned)

        with open(log, "wb") as handle:
            popen = subprocess.Popen(
                command,
                cwd=REPO,
                env=env,
                stdout=handle,
                stderr=subprocess.STDOUT,
                preexec_fn=preexec,
            )
        proc = Proc(name, popen, url, log)
        self.procs[name] = proc
        return proc

    def spawn_gateway(self, name: str, command: list[str], workers: int = 1) -> Proc:
        """A gateway process (``command`` + ``serve`` on a free port) on the proxy CPUs."""
        compile_optimized()
        port = free_port()
        command = [
            *command,
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ]
        return self.spawn(name, command, self.gateway_env, local_url(port), self.pinning.proxy_cpus)

    @staticmethod
    def wait_ready(proc: Proc, path: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.popen.poll() is not None:
                raise RuntimeError(f"{proc.name} exited early:\n{proc.log.read_text()[-3000:]}")
            with contextlib.suppress(OSError):
                if http("GET", proc.url + path, None, {})[0] == 200:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"{proc.name} not ready in {timeout}s:\n{proc.log.read_text()[-3000:]}")

    def start(self) -> None:
        """The emulator (ready, its answer fixed), then the floor and the gateway (both ready)."""
        base_env = clean_env()
        emulator = self.start_emulator(base_env)
        self._start_floor(base_env, emulator.url)
        self.gateway_env = gateway_env(base_env, emulator.url) | self.gateway_extra
        self.spawn_gateway("gateway", [sys.executable, "-m", "gateway"])
        self.wait_ready(self.procs["floor"], "/healthz")
        self.wait_ready(self.procs["gateway"], "/readyz")

    def start_emulator(self, base_env: dict[str, str]) -> Proc:
        """The emulator, ready, answering every model with the benchmark's fixed reply."""
        port = free_port()
        command = [
            sys.executable,
            str(LOAD / "bench_lib" / "emulator_main.py"),
            "--port",
            str(port),
            "--bearer-token",
            FLOOR_TOKEN,
        ]
        emulator = self.spawn(
            "emulator", command, base_env, local_url(port), self.pinning.load_cpus
        )
        self.wait_ready(emulator, "/_emulator/health")
        status, raw = http(
            "PUT",
            emulator.url + "/_emulator/behaviour/*",
            orjson.dumps({"reply": REPLY}),
            {"Content-Type": "application/json"},
        )
        if status != 200:
            raise RuntimeError(f"emulator behaviour: {status} {raw!r}")
        return emulator

    def _start_floor(self, base_env: dict[str, str], upstream: str) -> Proc:
        port = free_port()
        command = [
            sys.executable,
            str(LOAD / "floor_proxy.py"),
            "--port",
            str(port),
            "--upstream",
            upstream,
            "--bearer-token",
            FLOOR_TOKEN,
            *self.floor_args,
        ]
        return self.spawn("floor", command, base_env, local_url(port), self.pinning.proxy_cpus)

    def stop_one(self, name: str) -> None:
        proc = self.procs.pop(name)
        proc.popen.send_signal(signal.SIGTERM)
        try:
            proc.popen.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.popen.kill()
            proc.popen.wait()

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.popen.poll() is None:
                proc.popen.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait()

    def memory_mb(self, name: str) -> dict[str, float]:
        memory = procstat.memory(self.procs[name].pid)
        return {"rss_mb": memory.rss_kb / 1024, "hwm_mb": memory.hwm_kb / 1024}


def clean_env() -> dict[str, str]:
    """This environment without AWS_*, GATEWAY_* and PROMETHEUS_* (each process gets its own),
    with this checkout's gateway first on PYTHONPATH (an editable install may point elsewhere)."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GATEWAY_", "PROMETHEUS_"))
    }
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def gateway_env(base_env: dict[str, str], emulator_url: str) -> dict[str, str]:
    """The gateway as deployed: shipped policies, a client key, JSON logs, the image's
    ``PYTHONOPTIMIZE`` (bytecode from ``compile_optimized``), AWS_* at the emulator."""
    from gateway.emulator.credentials import (
        EMULATOR_ACCESS_KEY_ID,
        EMULATOR_REGION,
        EMULATOR_SECRET_ACCESS_KEY,
    )

    return {
        **base_env,
        "GATEWAY_API_KEYS": CLIENT_KEY,
        "GATEWAY_POLICIES": str(REPO / "policies"),
        "GATEWAY_LOG_FORMAT": "json",
        "GATEWAY_LOG_LEVEL": "INFO",
        "PYTHONOPTIMIZE": DEPLOYED_PYTHONOPTIMIZE,
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": emulator_url,
        "AWS_ACCESS_KEY_ID": EMULATOR_ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": EMULATOR_SECRET_ACCESS_KEY,
        "AWS_REGION": EMULATOR_REGION,
    }
