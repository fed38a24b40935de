"""Test kit: tiny loopback HTTP servers writing canned answers, for the HTTP/1.1 pool tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from gateway.providers.http1 import Http1Pool

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Test: a\r\n\r\nhello"
Reader = asyncio.StreamReader
Writer = asyncio.StreamWriter
Handler = Callable[["Server", Reader, Writer, int], Awaitable[None]]


class Server:
    """Counts connections and requests; connection ``n`` runs ``handler(server, r, w, n)``."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.open = 0
        self.max_open = 0
        self.requests: list[bytes] = []
        self.closed_by_client = 0
        self.port = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        index = self.connections
        self.connections += 1
        self.open += 1
        self.max_open = max(self.max_open, self.open)
        try:
            await self.handler(self, reader, writer, index)
            if not writer.is_closing() and await reader.read() == b"":
                self.closed_by_client += 1
        except (ConnectionError, asyncio.IncompleteReadError):
            self.closed_by_client += 1
        finally:
            self.open -= 1
            writer.close()

    async def read_request(self, reader: asyncio.StreamReader) -> bytes | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return None
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        request = head + await reader.readexactly(length)
        self.requests.append(request)
        return request


@asynccontextmanager
async def serving(handler: Handler) -> AsyncIterator[Server]:
    server = Server(handler)
    listener = await asyncio.start_server(server._serve, "127.0.0.1", 0)
    server.port = listener.sockets[0].getsockname()[1]
    try:
        yield server
    finally:
        listener.close()
        await listener.wait_closed()


def pool_for(server: Server, *, limit: int = 4, idle_timeout: float = 60.0, **kw: int) -> Http1Pool:
    return Http1Pool(
        "127.0.0.1",
        server.port,
        ssl=None,
        server_hostname=None,
        limit=limit,
        connect_timeout=2.0,
        idle_timeout=idle_timeout,
        **kw,
    )


def answering(*answers: bytes, close_after: bool = False) -> Handler:
    """Answer each request on a connection with the next canned answer (keep-alive)."""

    async def handler(server: Server, reader: Reader, writer: Writer, _: int) -> None:
        for answer in answers:
            if await server.read_request(reader) is None:
                return
            writer.write(answer)
            await writer.drain()
        if close_after:
            writer.close()

    return handler


def canned(*answers: bytes, close_after: bool = False) -> AbstractAsyncContextManager[Server]:
    return serving(answering(*answers, close_after=close_after))


async def post(pool: Http1Pool, body: bytes = b"{}") -> tuple[int, bytes]:
    response = await pool.request(b"POST", b"/x", [(b"Content-Type", b"application/json")], body)
    return response.status, response.body
