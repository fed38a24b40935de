"""Redis with TLS and AUTH kept out of the URL, as ElastiCache and MemoryDB require: real
redis-server processes speaking TLS only (a CA the test makes), with an ACL user or an AUTH
token, standalone and as a cluster whose every node needs both."""

from __future__ import annotations

import shutil
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.cache.redis_cache import RedisCache
from gateway.cache.redis_client import RedisAuth, RedisConnection
from gateway.limits.memory import MemoryLimits
from gateway.limits.redis_limits import RedisLimits
from gateway.routing.policy import RateLimit
from tests.support.redis_cluster import RedisCluster
from tests.support.redis_server import RedisServer, ServerTls

TIMEOUT_S = 2.0
USER, PASSWORD = "gateway", "pw-#%:/@-0123456789"  # characters a URL would have to escape
TOKEN = "auth-token-0123456789abcdef"


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> ServerTls:
    return ServerTls.make(tmp_path_factory.mktemp("redis-tls"))


@pytest.fixture(scope="module")
def acl_server(tls: ServerTls) -> Iterator[RedisServer]:
    server = RedisServer(username=USER, password=PASSWORD, tls=tls).start()
    yield server
    server.close()


def _url(server: RedisServer) -> str:
    return f"rediss://127.0.0.1:{server.port}/0"


async def _set_get(auth: RedisAuth, url: str, errors: Counter[str]) -> bytes | None:
    conn = RedisConnection.from_url(
        url,
        timeout_s=TIMEOUT_S,
        prefix=f"gwt-{uuid.uuid4().hex[:8]}:",
        auth=auth,
        on_error=lambda op: errors.update([op]),
    )
    try:
        key = conn.key("probe")
        await conn.run("set", lambda r: r.set(key, b"v"))
        return await conn.run("get", lambda r: r.get(key))
    finally:
        await conn.close()


async def test_tls_with_an_acl_user_and_the_given_ca(
    acl_server: RedisServer, tls: ServerTls
) -> None:
    errors: Counter[str] = Counter()
    auth = RedisAuth(username=USER, password=PASSWORD, ca_file=str(tls.ca_file))
    assert await _set_get(auth, _url(acl_server), errors) == b"v"
    assert errors == Counter()


@pytest.mark.parametrize(
    ("case", "auth"),
    [
        ("system CAs only: the server's certificate is not trusted", RedisAuth(USER, PASSWORD)),
        ("no user: the default user is off", RedisAuth(None, PASSWORD, "CA")),
        ("wrong password", RedisAuth(USER, "not-it", "CA")),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
async def test_each_part_is_needed(
    acl_server: RedisServer, tls: ServerTls, case: str, auth: RedisAuth
) -> None:
    if auth.ca_file == "CA":
        auth = RedisAuth(auth.username, auth.password, str(tls.ca_file))
    errors: Counter[str] = Counter()
    assert await _set_get(auth, _url(acl_server), errors) is None, case
    assert errors["set"] == 1  # failed open, counted


@pytest.fixture(scope="module")
def tls_cluster(tls: ServerTls) -> Iterator[RedisCluster]:
    if shutil.which("redis-cli") is None:  # pragma: no cover - Debian's redis-tools has it
        pytest.skip("redis-cli is not on PATH")
    running = RedisCluster(password=TOKEN, tls=tls).start()
    try:
        yield running
    finally:
        running.close()


async def test_a_tls_cluster_with_an_auth_token_on_every_node(
    tls_cluster: RedisCluster, tls: ServerTls
) -> None:
    """The token and CA reach the nodes the client discovers: keys on all three masters."""
    auth = RedisAuth(password=TOKEN, ca_file=str(tls.ca_file))
    assert tls_cluster.url.startswith("rediss+cluster://") and TOKEN not in tls_cluster.url
    errors: Counter[str] = Counter()
    conn = RedisConnection.from_url(
        tls_cluster.url,
        timeout_s=TIMEOUT_S,
        prefix="gwtls:",
        auth=auth,
        on_error=lambda op: errors.update([op]),
    )
    try:
        cache = RedisCache(conn)
        keys = [f"k{i}" for i in range(12)]
        masters = {tls_cluster.master_of(conn.key("cache", k)).port for k in keys}
        assert len(masters) == 3
        for key in keys:
            await cache.set(key, key.encode(), ttl_s=60)
        assert [await cache.get(k) for k in keys] == [k.encode() for k in keys]
        limits = RedisLimits(conn, MemoryLimits())
        outcomes = [
            await limits.acquire(tenant, RateLimit(2, 1000), 1) for tenant in "ab" for _ in "xyz"
        ]
        assert [o.allowed for o in outcomes] == [True, True, False] * 2
        assert conn.healthy and errors == Counter()
    finally:
        await conn.close()


def test_ca_and_credentials_stay_out_of_a_plain_url() -> None:
    """A CA is for TLS only: on ``redis://`` it is not handed to a client that cannot use it."""
    auth = RedisAuth(USER, PASSWORD, str(Path("/ca.pem")))
    assert auth.options("redis://h:6379/0") == {"username": USER, "password": PASSWORD}
    assert auth.options("rediss+cluster://h:6379/0")["ssl_ca_certs"] == "/ca.pem"
    assert RedisAuth(USER, None).options("rediss://h") == {}
