"""Test support: a real redis-server process on a free loopback port (never a fake)."""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def redis_binary() -> str | None:
    return shutil.which("redis-server")


@dataclass(frozen=True)
class ServerTls:
    """A test CA (trustme) and a server certificate for 127.0.0.1 and localhost, as files."""

    ca_file: Path
    cert_file: Path
    key_file: Path

    @classmethod
    def make(cls, folder: Path) -> ServerTls:
        import trustme

        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        tls = cls(folder / "ca.crt", folder / "server.crt", folder / "server.key")
        ca.cert_pem.write_to_path(str(tls.ca_file))
        cert.cert_chain_pems[0].write_to_path(str(tls.cert_file))
        cert.private_key_pem.write_to_path(str(tls.key_file))
        return tls

    def server_args(self) -> list[str]:
        """Clients need not show a certificate (ElastiCache and MemoryDB ask none either)."""
        return [
            "--tls-cert-file", str(self.cert_file),
            "--tls-key-file", str(self.key_file),
            "--tls-ca-cert-file", str(self.ca_file),
            "--tls-auth-clients", "no",
        ]  # fmt: skip

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))


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
        username: str | None = None,
        tls: ServerTls | None = None,
        extra_args: Sequence[str] = (),
        port: int | None = None,
    ) -> None:
        """``password`` alone is the default user's (``requirepass``, an AUTH token); with
        ``username`` it is that ACL user's, and the default user is off. ``tls``: the server
        speaks TLS only (``rediss://``)."""
        binary = redis_binary()
        if binary is None:
            raise RuntimeError("redis-server is not on PATH")
        self.binary = binary
        self.port = port or free_port()
        self.password = password
        self.username = username
        self.tls = tls
        self.extra_args = list(extra_args)
        self.dir = tempfile.mkdtemp(prefix="gw-redis-")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        auth = f"{self.username or ''}:{self.password}@" if self.password else ""
        scheme = "rediss" if self.tls else "redis"
        return f"{scheme}://{auth}127.0.0.1:{self.port}/0"

    def url_for_db(self, db: int) -> str:
        return self.url.rsplit("/", 1)[0] + f"/{db}"

    def start(self, timeout_s: float = 10.0) -> RedisServer:
        ports = (
            ["--port", "0", "--tls-port", str(self.port)]
            if self.tls
            else ["--port", str(self.port)]
        )
        args = [
            self.binary,
            *ports,
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", self.dir,
            "--daemonize", "no",
            "--loglevel", "warning",
        ]  # fmt: skip
        if self.tls:
            args += self.tls.server_args()
        if self.password and self.username:
            # One argument per word: redis-server quotes an argument holding a space.
            args += ["--user", "default", "off"]
            args += ["--user", self.username, "on", f">{self.password}", "~*", "&*", "+@all"]
        elif self.password:
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
        """One raw RESP command over a fresh socket (sync; for setup and checks): every reply
        of the connection (AUTH's and QUIT's ``+OK`` around the command's)."""
        payload = f"*{len(parts)}\r\n".encode()
        for part in parts:
            raw = part.encode()
            payload += b"$%d\r\n%s\r\n" % (len(raw), raw)
        if self.password:
            credentials = [self.username, self.password] if self.username else [self.password]
            auth = b"*%d\r\n$4\r\nAUTH\r\n" % (len(credentials) + 1)
            for value in credentials:
                auth += b"$%d\r\n%s\r\n" % (len(value), value.encode())
            payload = auth + payload
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout_s) as raw:
            sock = (
                self.tls.client_context().wrap_socket(raw, server_hostname="127.0.0.1")
                if self.tls
                else raw
            )
            sock.sendall(payload + b"*1\r\n$4\r\nQUIT\r\n")  # the server closes after QUIT
            return _read_to_end(sock)

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


def _read_to_end(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


@contextlib.contextmanager
def running_redis(*, password: str | None = None) -> Iterator[RedisServer]:
    """A started server, killed and cleaned up on exit."""
    server = RedisServer(password=password).start()
    try:
        yield server
    finally:
        server.close()
