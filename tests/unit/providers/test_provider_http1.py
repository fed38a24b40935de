"""Unit tests: HTTP/1.1 messages — bodies, reuse, stale retries and bounds — on loopback servers."""

from __future__ import annotations

import socket

import pytest

from gateway.errors import UpstreamUnavailableError
from gateway.providers.bedrock_errors import error_from_transport
from gateway.providers.http1 import (
    Http1BodyTooLarge,
    Http1ConnectionClosed,
    Http1HeadersTooLarge,
    Http1PayloadError,
    Http1Pool,
    Http1ProtocolError,
    host_header,
)
from tests.unit.providers.http1_testkit import (
    OK,
    Reader,
    Server,
    Writer,
    canned,
    pool_for,
    post,
    serving,
)


async def test_content_length_body_and_headers() -> None:
    async with canned(OK) as server:
        pool = pool_for(server)
        response = await pool.request(b"POST", b"/a?b=1", b"X-Mine: 1\r\n", b"payload")
        assert (response.status, response.body) == (200, b"hello")
        assert response.headers["X-TEST"] == "a" and response.headers.get("x-test") == "a"
        assert set(response.headers) == {"content-length", "x-test"}
        request = server.requests[0]
        assert request.startswith(b"POST /a?b=1 HTTP/1.1\r\n")
        assert f"Host: 127.0.0.1:{server.port}\r\n".encode() in request
        assert b"X-Mine: 1\r\nContent-Length: 7\r\n\r\npayload" in request
        assert pool.stats() == {"in_use": 0, "idle": 1, "limit": 4}
        await pool.close()


async def test_chunked_body() -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n"
    )
    async with canned(chunked, chunked) as server:
        pool = pool_for(server)
        assert await post(pool) == (200, b"abcdefg")
        assert await post(pool) == (200, b"abcdefg")
        assert server.connections == 1
        await pool.close()


async def test_close_delimited_body_completes_on_eof() -> None:
    async with canned(b"HTTP/1.1 200 OK\r\n\r\nuntil the end", close_after=True) as server:
        pool = pool_for(server)
        assert await post(pool) == (200, b"until the end")
        assert pool.stats()["idle"] == 0 and pool.stats()["in_use"] == 0
        await pool.close()


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
    ],
)
async def test_connection_close_and_http10_are_not_reused(answer: bytes) -> None:
    async with canned(answer) as server:
        pool = pool_for(server)
        assert await post(pool) == (200, b"ok")
        assert await post(pool) == (200, b"ok")
        assert server.connections == 2
        assert pool.stats() == {"in_use": 0, "idle": 0, "limit": 4}
        await pool.close()


async def test_keep_alive_reuses_the_same_socket() -> None:
    async with canned(OK, OK, OK) as server:
        pool = pool_for(server)
        for _ in range(3):
            assert await post(pool) == (200, b"hello")
        assert server.connections == 1 and len(server.requests) == 3
        await pool.close()


async def test_interim_100_continue_is_skipped() -> None:
    async with canned(b"HTTP/1.1 100 Continue\r\n\r\n" + OK, OK) as server:
        pool = pool_for(server)
        response = await pool.request(b"POST", b"/", b"", b"")
        assert (response.status, response.body) == (200, b"hello")
        assert "x-test" in response.headers
        assert await post(pool) == (200, b"hello")
        await pool.close()


async def test_stale_keep_alive_is_retried_once_on_a_fresh_connection() -> None:
    async def handler(server: Server, reader: Reader, writer: Writer, n: int) -> None:
        await server.read_request(reader)
        writer.write(OK)
        await writer.drain()
        if n == 0:
            # Read the second request, then close without a byte of answer.
            await server.read_request(reader)
            writer.close()

    async with serving(handler) as server:
        pool = pool_for(server)
        assert await post(pool) == (200, b"hello")
        assert await post(pool, b'{"second":1}') == (200, b"hello")
        assert server.connections == 2
        assert server.requests[1].endswith(b'{"second":1}')
        assert server.requests[2].endswith(b'{"second":1}')
        await pool.close()


async def test_a_fresh_connection_closed_without_answer_is_not_retried() -> None:
    async def handler(server: Server, reader: Reader, writer: Writer, _: int) -> None:
        await server.read_request(reader)
        writer.close()

    async with serving(handler) as server:
        pool = pool_for(server)
        with pytest.raises(Http1ConnectionClosed) as info:
            await post(pool)
        assert server.connections == 1
        assert type(error_from_transport(info.value, model_id="m")) is UpstreamUnavailableError
        assert pool.stats()["in_use"] == 0
        await pool.close()


async def test_no_retry_once_response_bytes_arrived() -> None:
    async def handler(server: Server, reader: Reader, writer: Writer, n: int) -> None:
        await server.read_request(reader)
        writer.write(OK)
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\npartial")
        await writer.drain()
        writer.close()

    async with serving(handler) as server:
        pool = pool_for(server)
        assert await post(pool) == (200, b"hello")
        with pytest.raises(Http1PayloadError):
            await post(pool)
        assert server.connections == 1 and len(server.requests) == 2
        assert pool.stats() == {"in_use": 0, "idle": 0, "limit": 4}
        await pool.close()


@pytest.mark.parametrize("one_huge_header", [False, True])
async def test_oversized_headers_are_rejected(one_huge_header: bool) -> None:
    if one_huge_header:
        head = b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n"
    else:
        head = b"HTTP/1.1 200 OK\r\n" + b"".join(
            b"X-H%d: %s\r\n" % (i, b"v" * 90) for i in range(800)
        )
    async with canned(head + b"Content-Length: 0\r\n\r\n") as server:
        pool = pool_for(server)
        with pytest.raises(Http1HeadersTooLarge):
            await post(pool)
        assert pool.stats()["in_use"] == 0
        await pool.close()


async def test_oversized_body_is_rejected() -> None:
    async with canned(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + b"x" * 5000) as server:
        pool = pool_for(server, max_body=1000)
        with pytest.raises(Http1BodyTooLarge, match="1000"):
            await post(pool)
        assert pool.stats()["in_use"] == 0
        await pool.close()


async def test_garbage_is_a_protocol_error() -> None:
    async with canned(b"SPDY/9 nonsense\r\n\r\n") as server:
        pool = pool_for(server)
        with pytest.raises(Http1ProtocolError):
            await post(pool)
        await pool.close()


async def test_connection_refused_maps_to_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    pool = Http1Pool(
        "127.0.0.1", port, ssl=None, server_hostname=None, limit=2, connect_timeout=1.0
    )
    with pytest.raises(OSError) as info:
        await post(pool)
    assert type(error_from_transport(info.value, model_id="m")) is UpstreamUnavailableError
    assert pool.stats() == {"in_use": 0, "idle": 0, "limit": 2}
    await pool.close()


async def test_large_request_body_is_sent_whole() -> None:
    async with canned(OK) as server:
        pool = pool_for(server)
        body = b"z" * 1_000_000
        assert await post(pool, body) == (200, b"hello")
        assert server.requests[0].endswith(body)
        await pool.close()


def test_host_header() -> None:
    assert host_header("example.com", 443, tls=True) == "example.com"
    assert host_header("example.com", 80, tls=False) == "example.com"
    assert host_header("127.0.0.1", 8080, tls=False) == "127.0.0.1:8080"
    assert host_header("::1", 443, tls=False) == "[::1]:443"


def test_rejects_header_injection() -> None:
    pool = Http1Pool("h", 1, ssl=None, server_hostname=None, limit=1, connect_timeout=1.0)
    with pytest.raises(ValueError, match="invalid header"):
        pool._payload(b"POST", b"/", [(b"X", b"a\r\nEvil: 1")], b"")
