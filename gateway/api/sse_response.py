"""API: a streamed answer that stops when the client goes away, without a task group.

Starlette's ``StreamingResponse`` (under uvicorn's ASGI spec 2.3) wraps every stream in an
anyio task group with cancel scopes to notice a disconnect; in the gateway's profile that
machinery cost more than the rest of the response. This sends the body from the current task
and keeps one plain task waiting on ``receive()``: on ``http.disconnect`` it cancels the
stream, whose generator then closes the Bedrock call (its ``finally``), as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping

from starlette.responses import Response
from starlette.types import Receive, Scope, Send


class EventStreamResponse(Response):
    """``text/event-stream`` from an async iterator of bytes; a client hang-up cancels it."""

    media_type = "text/event-stream"

    def __init__(self, body: AsyncIterator[bytes], headers: Mapping[str, str]) -> None:
        self.body_iterator = body
        self.status_code = 200
        self.background = None
        self.init_headers(headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("an ASGI response runs inside a task")
        watch = _DisconnectWatch(task)
        listener = asyncio.get_running_loop().create_task(watch.listen(receive))
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            await self._send_body(send)
            watch.streaming = False  # from here on, uvicorn's receive() says "disconnect"
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except asyncio.CancelledError:
            if not watch.fired or task.cancelling() > 1:
                raise
            task.uncancel()  # the client left: a normal end of this response
        finally:
            listener.cancel()
            if watch.streaming:  # ended early: run the generator's cleanup now
                watch.streaming = False
                await _close(self.body_iterator)

    async def _send_body(self, send: Send) -> None:
        async for chunk in self.body_iterator:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})


class _DisconnectWatch:
    """Cancels the streaming task once, on ``http.disconnect``, while it still streams."""

    __slots__ = ("fired", "streaming", "task")

    def __init__(self, task: asyncio.Task[object]) -> None:
        self.task = task
        self.streaming = True
        self.fired = False

    async def listen(self, receive: Receive) -> None:
        while self.streaming:
            message = await receive()
            if message["type"] == "http.disconnect":
                if self.streaming:
                    self.fired = True
                    self.task.cancel()
                return


async def _close(body: AsyncIterator[bytes]) -> None:
    """Run the generator's ``finally`` now (it releases Bedrock's connection)."""
    aclose = getattr(body, "aclose", None)
    if aclose is not None:
        await aclose()
