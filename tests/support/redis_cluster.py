"""Test support: a real Redis Cluster (three masters, one replica each) from redis-server
binaries, created with ``redis-cli --cluster create``, with a failover on demand."""

from __future__ import annotations

import binascii
import shutil
import socket
import subprocess
import time

from tests.support.redis_server import RedisServer, ServerTls

NODE_TIMEOUT_MS = 1000


def cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free and valid too."""
    for _ in range(200):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if port + 10000 > 65535:
            continue
        with socket.socket() as bus:
            try:
                bus.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair for a cluster node")


def cluster_slot(key: str) -> int:
    """Redis Cluster's slot of a key (CRC16/XMODEM of the hash tag or the key, mod 16384)."""
    start = key.find("{")
    if start != -1:
        end = key.find("}", start + 1)
        if end > start + 1:
            key = key[start + 1 : end]
    return binascii.crc_hqx(key.encode(), 0) % 16384


class RedisCluster:
    """Six nodes on free loopback ports; ``kill_master_of(key)`` kills the master serving a
    key's slot (SIGKILL) and waits until its replica has taken over."""

    def __init__(self, *, password: str | None = None, tls: ServerTls | None = None) -> None:
        """``password``: every node's AUTH token (replicas use it towards their master);
        ``tls``: clients, the cluster bus and replication all speak TLS (as on ElastiCache
        with in-transit encryption)."""
        self.password = password
        self.tls = tls
        extra = [
            "--cluster-enabled", "yes",
            "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", str(NODE_TIMEOUT_MS),
            "--cluster-replica-validity-factor", "0",
        ]  # fmt: skip
        if password:
            extra += ["--masterauth", password]
        if tls:
            extra += ["--tls-cluster", "yes", "--tls-replication", "yes"]
        self.nodes = [
            RedisServer(port=cluster_port(), password=password, tls=tls, extra_args=extra)
            for _ in range(6)
        ]

    @property
    def url(self) -> str:
        """Any node's address, without credentials."""
        scheme = "rediss+cluster" if self.tls else "redis+cluster"
        return f"{scheme}://127.0.0.1:{self.nodes[0].port}/0"

    def start(self, timeout_s: float = 30.0) -> RedisCluster:
        for node in self.nodes:
            node.start()
        cli = shutil.which("redis-cli")
        if cli is None:
            raise RuntimeError("redis-cli is not on PATH")
        options = ["--tls", "--cacert", str(self.tls.ca_file)] if self.tls else []
        if self.password:
            options += ["-a", self.password, "--no-auth-warning"]
        subprocess.run(
            [
                cli,
                *options,
                "--cluster",
                "create",
                *(f"127.0.0.1:{n.port}" for n in self.nodes),
                "--cluster-replicas",
                "1",
                "--cluster-yes",
            ],
            check=True,
            capture_output=True,
            timeout=timeout_s,
        )
        self.wait_ok(self.nodes, timeout_s)
        return self

    def wait_ok(self, nodes: list[RedisServer], timeout_s: float = 30.0) -> None:
        """Until every given node says ``cluster_state:ok`` and all slots are served."""
        deadline = time.monotonic() + timeout_s
        while True:
            infos = [self._info(n) for n in nodes]
            if all(b"cluster_state:ok" in i and b"cluster_slots_ok:16384" in i for i in infos):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"cluster not ok: {infos}")
            time.sleep(0.1)

    @staticmethod
    def _info(node: RedisServer) -> bytes:
        try:
            return node.command("CLUSTER", "INFO")
        except OSError:
            return b""

    def master_of(self, key: str) -> RedisServer:
        slot = cluster_slot(key)
        for node in self.nodes:
            if not node.running:
                continue
            for line in node.command("CLUSTER", "NODES", timeout_s=2.0).decode().splitlines():
                fields = line.split()
                if len(fields) < 9 or "master" not in fields[2] or "fail" in fields[2]:
                    continue
                for spec in fields[8:]:
                    low, _, high = spec.partition("-")
                    if low.isdigit() and int(low) <= slot <= int(high or low):
                        port = int(fields[1].split(":")[1].split("@")[0])
                        return next(n for n in self.nodes if n.port == port)
            break
        raise RuntimeError(f"no master serves slot {slot}")

    def kill_master_of(self, key: str, timeout_s: float = 30.0) -> RedisServer:
        master = self.master_of(key)
        master.stop()
        self.wait_ok([n for n in self.nodes if n.running], timeout_s)
        return master

    def close(self) -> None:
        for node in self.nodes:
            node.close()
