"""The streams benchmark's load client: N concurrent streams, one connection each, on raw
asyncio sockets under uvloop (the cheapest client Python has, so the proxies run out first).

    cd load && python -m bench_lib.stream_client SPEC.json OUT.json

SPEC: ``url``, ``headers``, ``body`` (text), ``kind`` (``sse`` or ``frames``: what a content
chunk and the end look like), ``streams``, ``ramp_s`` (start times spread evenly over it),
``expected_chunks``, ``first_token_timeout_s``, ``total_timeout_s``. Each request says
``Connection: close``, so the end of a stream is the server closing it. Per stream: the time
from connecting to each content chunk's arrival; a sampler every 50 ms records how many
streams are open (connected, not finished) and flowing (a first chunk arrived, not finished),
and a 10 ms ticker measures this process's own event-loop lag. OUT gets the summary
(``bench_lib.stream_stats.summarize``), the timeline, the lag and this process's CPU time.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from typing import Any, cast
from urllib.parse import urlsplit

from bench_lib.stream_stats import MarkCounter, StreamRecord, distribution, summarize

SAMPLE_S = 0.05
TICK_S = 0.01


class Counts:
    """Streams open and flowing right now."""

    __slots__ = ("flowing", "open")

    def __init__(self) -> None:
        self.open = 0
        self.flowing = 0


class StreamProtocol(asyncio.Protocol):
    """One stream: send the request, note each content chunk's arrival, end on close."""

    def __init__(
        self, request: bytes, record: StreamRecord, kind: str, counts: Counts, expected: int
    ) -> None:
        self.request = request
        self.record = record
        self.counter = MarkCounter(kind)
        self.counts = counts
        self.expected = expected
        self.head = b""
        self.transport: asyncio.Transport | None = None
        self.error: str | None = None
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.sample = b""

    def connection_made(self, base: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, base)  # uvloop's is not a subclass
        if self.done.done():  # timed out while connecting
            transport.abort()
            return
        self.transport = transport
        self.counts.open += 1
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        record = self.record
        if record.status is None:
            self.head += data
            line, found, _ = self.head.partition(b"\r\n")
            if not found:
                return
            record.status = int(line.split(b" ", 2)[1])
            data, self.head = self.head, b""
            if record.status != 200:
                self.sample = data[:400]
        count = self.counter.feed(data)
        if count:
            if not record.chunk_times:
                self.counts.flowing += 1
            record.chunk_times.extend([now] * count)

    def connection_lost(self, exc: Exception | None) -> None:
        self.finish(None if exc is None or self.counter.ended else "reset")

    def finish(self, error: str | None) -> None:
        """Record the outcome once (close, timeout or reset) and free the counters."""
        if self.done.done():
            return
        record = self.record
        record.finished = time.monotonic()
        record.ended = self.counter.ended
        record.outcome = record.classify(self.expected, error)
        if record.chunk_times:
            self.counts.flowing -= 1
        self.done.set_result(None)
        if self.transport is not None:
            self.counts.open -= 1
            if not self.transport.is_closing():
                self.transport.abort()


def build_request(spec: dict[str, Any]) -> tuple[str, int, bytes]:
    """Host, port and the raw HTTP/1.1 request of ``spec``."""
    parts = urlsplit(spec["url"])
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    body = spec["body"].encode()
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{k}: {v}" for k, v in spec["headers"].items() if k.lower() != "host"]
    lines += [f"Content-Length: {len(body)}", "Connection: close", "", ""]
    return host, port, "\r\n".join(lines).encode() + body


async def one_stream(
    spec: dict[str, Any], target: tuple[str, int, bytes], counts: Counts, samples: dict[str, bytes]
) -> StreamRecord:
    host, port, request = target
    loop = asyncio.get_running_loop()
    record = StreamRecord(started=time.monotonic())
    protocol = StreamProtocol(request, record, spec["kind"], counts, spec["expected_chunks"])
    no_token = loop.call_at(
        loop.time() + spec["first_token_timeout_s"],
        lambda: None if record.chunk_times else protocol.finish("no_first_token"),
    )
    try:
        async with asyncio.timeout(spec["total_timeout_s"]):
            try:
                await loop.create_connection(lambda: protocol, host, port)
            except OSError as exc:
                record.outcome = f"connect_{type(exc).__name__}"
                return record
            await protocol.done
    except TimeoutError:
        protocol.finish("timeout")
    finally:
        no_token.cancel()
    if protocol.sample and record.outcome not in samples:
        samples[record.outcome] = protocol.sample
    return record


async def sample(counts: Counts, timeline: list[list[float]], stop: asyncio.Event) -> None:
    while not stop.is_set():
        timeline.append([time.monotonic(), counts.open, counts.flowing])
        await asyncio.sleep(SAMPLE_S)


async def tick(lags: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():  # time.monotonic: uvloop's loop.time() has 1 ms steps
        due = time.monotonic() + TICK_S
        await asyncio.sleep(TICK_S)
        lags.append(max(0.0, time.monotonic() - due))


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    """Every stream of ``spec``, started evenly over ``ramp_s``; the document OUT gets."""
    target = build_request(spec)
    counts, timeline, lags, samples = Counts(), [], [], {}  # type: ignore[var-annotated]
    stop = asyncio.Event()
    side = [
        asyncio.create_task(sample(counts, timeline, stop)),
        asyncio.create_task(tick(lags, stop)),
    ]
    n, ramp = spec["streams"], spec["ramp_s"]
    cpu0, started = _cpu_s(), time.monotonic()
    tasks = []
    for index in range(n):
        delay = started + ramp * index / n - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one_stream(spec, target, counts, samples)))
    records = await asyncio.gather(*tasks)
    ended = time.monotonic()
    stop.set()
    await asyncio.gather(*side)
    return {
        "summary": summarize(records),
        "per_stream": [
            [r.started - started, r.ttft(), (r.finished or ended) - r.started, r.outcome]
            for r in records
        ],
        "started": started,
        "ended": ended,
        "timeline": timeline,
        "loop_lag_ms": distribution(lags, 1000.0),
        "client_cpu_s": _cpu_s() - cpu0,
        "samples": {k: v.decode(errors="replace") for k, v in samples.items()},
    }


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def raise_nofile() -> None:
    """As many open files as the hard limit allows (one socket per stream)."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main(argv: list[str]) -> int:
    with open(argv[0]) as handle:
        spec = json.load(handle)
    raise_nofile()
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(run(spec))
    else:
        result = uvloop.run(run(spec))
    with open(argv[1], "w") as out:
        json.dump(result, out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
