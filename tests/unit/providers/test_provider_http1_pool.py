"""Unit tests: the HTTP/1.1 pool — limits, cancellation, idle expiry, streams and TLS."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess

import pytest

from gateway.providers.http1 import Http1Pool, Http1ReadTimeout
from tests.unit.providers.http1_testkit import (
    OK,
    Reader,
    Server,
    Writer,
    answering,
    canned,
    pool_for,
    post,
    serving,
)


async def test_limit_holds_under_three_times_the_load() -> None:
    limit = 3

    async def handler(server: Server, reader: Reader, writer: Writer, _: int) -> None:
        while await server.read_request(reader) is not None:
            await asyncio.sleep(0.01)
            writer.write(OK)

    async with serving(handler) as server:
        pool = pool_for(server, limit=limit)
        peak = 0
        stop = False

        async def sample() -> None:
            nonlocal peak
            while not stop:
                peak = max(peak, pool.stats()["in_use"])
                assert pool.stats()["in_use"] + pool.stats()["idle"] <= limit
                await asyncio.sleep(0)

        sampler = asyncio.create_task(sample())
        results = await asyncio.gather(*(post(pool) for _ in range(3 * limit * 3)))
        stop = True
        await sampler
        assert all(result == (200, b"hello") for result in results)
        assert peak == limit and server.max_open <= limit
        assert pool.stats() == {"in_use": 0, "idle": limit, "limit": limit}
        await pool.close()


async def test_cancelled_waiter_leaks_no_slot() -> None:
    async def handler(server: Server, reader: Reader, writer: Writer, _: int) -> None:
        while await server.read_request(reader) is not None:
            await asyncio.sleep(0.05)
            writer.write(OK)

    async with serving(handler) as server:
        pool = pool_for(server, limit=1)
        first = asyncio.create_task(post(pool))
        waiting = [asyncio.create_task(post(pool)) for _ in range(3)]
        await asyncio.sleep(0.01)
        for task in waiting[:2]:
            task.cancel()
        assert await first == (200, b"hello")
        assert await waiting[2] == (200, b"hello")
        assert pool.stats() == {"in_use": 0, "idle": 1, "limit": 1}
        assert all(task.cancelled() for task in waiting[:2])
        await pool.close()


async def test_cancellation_mid_response_closes_the_connection() -> None:
    async def handler(server: Server, reader: Reader, writer: Writer, _: int) -> None:
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nsome")
        await writer.drain()

    async with serving(handler) as server:
        pool = pool_for(server)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.1):
                await post(pool)
        assert pool.stats() == {"in_use": 0, "idle": 0, "limit": 4}
        for _ in range(50):
            if server.closed_by_client:
                break
            await asyncio.sleep(0.01)
        assert server.closed_by_client == 1
        await pool.close()


async def test_idle_connections_expire() -> None:
    async with canned(OK, OK) as server:
        pool = pool_for(server, idle_timeout=0.1)
        await post(pool)
        assert pool.stats()["idle"] == 1
        await asyncio.sleep(0.3)
        assert pool.stats()["idle"] == 0
        assert server.closed_by_client == 1
        await post(pool)
        assert server.connections == 2
        await pool.close()


async def test_a_connection_closed_by_the_peer_leaves_the_pool() -> None:
    async with canned(OK, close_after=True) as server:
        pool = pool_for(server)
        await post(pool)
        for _ in range(50):
            if pool.stats()["idle"] == 0:
                break
            await asyncio.sleep(0.01)
        assert pool.stats() == {"in_use": 0, "idle": 0, "limit": 4}
        await pool.close()


async def test_stream_chunks_then_end_and_reuse() -> None:
    gate = asyncio.Event()

    async def handler(server: Server, reader: Reader, writer: Writer, _: int) -> None:
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n")
        await writer.drain()
        await gate.wait()
        writer.write(b"1\r\nc\r\n1\r\nd\r\n0\r\n\r\n")
        await server.read_request(reader)
        writer.write(OK)

    async with serving(handler) as server:
        pool = pool_for(server)
        stream = await pool.open(b"POST", b"/s", b"", b"{}")
        assert stream.status == 200 and stream.headers["transfer-encoding"] == "chunked"
        assert await stream.next_chunks() == [b"ab"]
        gate.set()
        rest: list[bytes] = []
        while chunks := await stream.next_chunks():
            rest.extend(chunks)
        assert b"".join(rest) == b"cd" and stream.complete
        assert await stream.next_chunks() == []
        await stream.aclose()
        await stream.aclose()
        assert pool.stats() == {"in_use": 0, "idle": 1, "limit": 4}
        assert await post(pool) == (200, b"hello")
        assert server.connections == 1
        await pool.close()


async def test_stream_read_timeout_and_early_close() -> None:
    async def handler(server: Server, reader: Reader, writer: Writer, _: int) -> None:
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab")
        await writer.drain()

    async with serving(handler) as server:
        pool = pool_for(server)
        stream = await pool.open(b"POST", b"/s", b"", b"")
        stream.set_read_timeout(0.1)
        assert await stream.next_chunks() == [b"ab"]
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(Http1ReadTimeout):
            await stream.next_chunks()
        assert 0.05 < loop.time() - started < 0.5
        assert pool.stats()["in_use"] == 1
        await stream.aclose()
        assert pool.stats() == {"in_use": 0, "idle": 0, "limit": 4}
        second = await pool.open(b"POST", b"/s", b"", b"")
        await second.aclose()
        assert pool.stats() == {"in_use": 0, "idle": 0, "limit": 4}
        await pool.close()


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = str(folder / "cert.pem"), str(folder / "key.pem")
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
         "-days", "1", "-keyout", key, "-out", cert],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


async def test_tls_with_sni_verification_and_reuse(tls_files: tuple[str, str]) -> None:
    cert, key = tls_files
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    server = Server(answering(OK, OK))
    listener = await asyncio.start_server(server._serve, "127.0.0.1", 0, ssl=server_context)
    port = listener.sockets[0].getsockname()[1]
    try:
        trusted = ssl.create_default_context(cafile=cert)
        pool = Http1Pool(
            "127.0.0.1", port, ssl=trusted, server_hostname="localhost", limit=2,
            connect_timeout=2.0,
        )  # fmt: skip
        assert await post(pool) == (200, b"hello")
        assert await post(pool) == (200, b"hello")
        assert server.connections == 1
        assert b"Host: 127.0.0.1:%d\r\n" % port in server.requests[0]
        await pool.close()
        wrong_name = Http1Pool(
            "127.0.0.1", port, ssl=trusted, server_hostname="example.com", limit=2,
            connect_timeout=2.0,
        )  # fmt: skip
        with pytest.raises(ssl.SSLCertVerificationError):
            await post(wrong_name)
        assert wrong_name.stats()["in_use"] == 0
        await wrong_name.close()
    finally:
        listener.close()
        await listener.wait_closed()


async def test_a_slow_stream_consumer_pauses_reading_and_gets_every_byte() -> None:
    piece = b"q" * 65536
    count = 48  # 3 MiB, well over the 1 MiB read-pause mark

    async def handler(server: Server, reader: Reader, writer: Writer, _: int) -> None:
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (len(piece) * count))
        for _ in range(count):
            writer.write(piece)
        await writer.drain()

    async with serving(handler) as server:
        pool = pool_for(server)
        stream = await pool.open(b"POST", b"/big", b"", b"")
        await asyncio.sleep(0.2)
        total = 0
        while chunks := await stream.next_chunks():
            total += sum(map(len, chunks))
            await asyncio.sleep(0)
        assert total == len(piece) * count
        await stream.aclose()
        assert pool.stats() == {"in_use": 0, "idle": 1, "limit": 4}
        await pool.close()
