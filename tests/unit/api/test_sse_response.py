"""Unit tests: EventStreamResponse sends every chunk, and a client disconnect cancels the body."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from gateway.api.sse_response import EventStreamResponse

SCOPE: dict[str, Any] = {"type": "http", "method": "POST", "path": "/v1/chat/completions"}


class Body:
    """A body generator that records how far it got and whether its cleanup ran."""

    def __init__(self, chunks: list[bytes], stall_after: int | None = None) -> None:
        self.chunks = chunks
        self.stall_after = stall_after
        self.cleaned_up = False

    async def __call__(self) -> AsyncIterator[bytes]:
        try:
            for index, chunk in enumerate(self.chunks):
                if index == self.stall_after:
                    await asyncio.sleep(30)  # Bedrock stalls: only a cancel ends this
                yield chunk
        finally:
            self.cleaned_up = True


async def _run(body: Body, *, disconnect_after: float | None) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    gone = asyncio.Event()

    async def receive() -> dict[str, Any]:
        if disconnect_after is None:
            await gone.wait()
        else:
            await asyncio.sleep(disconnect_after)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    response = EventStreamResponse(body(), headers={"x-request-id": "req_1"})
    async with asyncio.timeout(5):
        await response(SCOPE, receive, send)
    return sent


async def test_every_chunk_then_the_end_of_the_body() -> None:
    body = Body([b"data: 1\n\n", b"data: 2\n\n", b"data: [DONE]\n\n"])
    sent = await _run(body, disconnect_after=None)
    assert sent[0]["type"] == "http.response.start"
    assert sent[0]["status"] == 200
    headers = dict(sent[0]["headers"])
    assert headers[b"content-type"].startswith(b"text/event-stream")
    assert headers[b"x-request-id"] == b"req_1"
    assert [m["body"] for m in sent[1:]] == [*body.chunks, b""]
    assert [m["more_body"] for m in sent[1:]] == [True, True, True, False]
    assert body.cleaned_up


@pytest.mark.parametrize("stall_after", [0, 1, 2])
async def test_a_disconnect_cancels_the_body_and_ends_the_response_quietly(
    stall_after: int,
) -> None:
    body = Body([b"data: 1\n\n", b"data: 2\n\n", b"data: 3\n\n"], stall_after=stall_after)
    sent = await _run(body, disconnect_after=0.05)
    assert body.cleaned_up
    assert [m["body"] for m in sent[1:]] == body.chunks[:stall_after]
    assert all(m.get("more_body", True) for m in sent[1:])  # never a normal end


async def test_a_cancel_from_outside_still_propagates() -> None:
    body = Body([b"data: 1\n\n"], stall_after=0)
    task = asyncio.create_task(_run(body, disconnect_after=None))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert body.cleaned_up
