"""Test support: a real redis-server process on a free loopback port (never a fake)."""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def redis_binary() -> str | None:
    return shutil.which("redis-server")


class RedisServer:
    """``redis-server --save "" --appendonly no --bind 127.0.0.1`` on its own port.

    ``stop()`` kills it (SIGKILL: like a crashed node, connections just drop);
    ``restart()`` starts a fresh, empty server on the same port; ``freeze()``/``thaw()``
    stop and resume it without closing its sockets (a hung server: calls time out).
    """

    def __init__(
        self,
        *,
        password: str | None = None,
        extra_args: Sequence[str] = (),
        port: int | None = None,
    ) -> None:
        binary = redis_binary()
        if binary is None:
            raise RuntimeError("redis-server is not on PATH")
        self.binary = binary
        self.port = port or free_port()
        self.password = password
        self.extra_args = list(extra_args)
        self.dir = tempfile.mkdtemp(prefix="gw-redis-")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def url_for_db(self, db: int) -> str:
        return self.url.rsplit("/", 1)[0] + f"/{db}"

    def start(self, timeout_s: float = 10.0) -> RedisServer:
        args = [
            self.binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", self.dir,
            "--daemonize", "no",
            "--loglevel", "warning",
        ]  # fmt: skip
        if self.password:
            args += ["--requirepass", self.password]
        args += self.extra_args
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout_s
        while not self.ping():
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("redis-server did not answer PING")
            time.sleep(0.01)
        return self

    def command(self, *parts: str, timeout_s: float = 1.0) -> bytes:
        """One raw RESP command over a fresh socket (sync; for setup and checks)."""
        payload = f"*{len(parts)}\r\n".encode()
        for part in parts:
            raw = part.encode()
            payload += b"$%d\r\n%s\r\n" % (len(raw), raw)
        if self.password:
            auth = b"*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n" % (
                len(self.password),
                self.password.encode(),
            )
            payload = auth + payload
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout_s) as sock:
            sock.sendall(payload)
            return sock.recv(65536)

    def ping(self) -> bool:
        try:
            return b"+PONG" in self.command("PING", timeout_s=0.2)
        except OSError:
            return False

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None

    def freeze(self) -> None:
        """SIGSTOP: the server keeps its sockets but answers nothing (a hung or slow node)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def restart(self) -> RedisServer:
        self.stop()
        return self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.contextmanager
def running_redis(*, password: str | None = None) -> Iterator[RedisServer]:
    """A started server, killed and cleaned up on exit."""
    server = RedisServer(password=password).start()
    try:
        yield server
    finally:
        server.close()
