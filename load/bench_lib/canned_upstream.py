"""A Bedrock stand-in that answers every request with one canned HTTP answer, for the workers
scaling run: the cheapest upstream a keep-alive HTTP/1.1 client can talk to (an asyncio
protocol on uvloop, no parsing beyond the head's end and Content-Length, no SigV4 check), so
that on a two-core machine the CPU goes to the gateway's workers rather than to the upstream.

The answer's body is the emulator's own Converse answer to the benchmark's request (captured
once by the caller, ``--answer FILE``), so the gateway parses and translates what it always
does. A request with a chunked body is refused by closing its connection (wrk counts it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from pathlib import Path
from typing import cast

HEAD_END = b"\r\n\r\n"
LENGTH = b"\r\ncontent-length:"


def answer_bytes(body: bytes) -> bytes:
    head = (
        "HTTP/1.1 200 OK\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "x-amzn-RequestId: 00000000-0000-4000-8000-000000000000\r\n"
        "\r\n"
    )
    return head.encode() + body


class Canned(asyncio.Protocol):
    """Reads whole requests (head and Content-Length body) and writes the answer for each."""

    def __init__(self, answer: bytes) -> None:
        self.answer = answer
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        buffer = self.buffer
        buffer += data
        while (end := buffer.find(HEAD_END)) >= 0:
            head = bytes(buffer[:end]).lower()
            if b"transfer-encoding: chunked" in head:
                self.transport.close()
                return
            length = 0
            at = head.find(LENGTH)
            if at >= 0:
                line_end = head.find(b"\r\n", at + 2)
                length = int(head[at + len(LENGTH) : line_end if line_end >= 0 else len(head)])
            total = end + len(HEAD_END) + length
            if len(buffer) < total:
                return
            del buffer[:total]
            self.transport.write(self.answer)


async def _serve(host: str, port: int, answer: bytes) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Canned(answer), host, port, backlog=1024)
    print(f"canned upstream listening on http://{host}:{port}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--answer", type=Path, required=True, help="the answer's body")
    args = parser.parse_args()
    import uvloop

    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(_serve(args.host, args.port, answer_bytes(args.answer.read_bytes())))


if __name__ == "__main__":
    main()
