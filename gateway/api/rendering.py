"""API: the service layer's replies as Starlette responses (JSON, or an SSE stream that stops
the upstream work when the client hangs up)."""

from __future__ import annotations

from starlette.background import BackgroundTask
from starlette.responses import Response

from gateway.api.sse_response import EventStreamResponse
from gateway.service.replies import JsonReply, Reply


def render(reply: Reply) -> Response:
    if isinstance(reply, JsonReply):
        after = BackgroundTask(reply.after) if reply.after is not None else None
        return Response(
            reply.body, media_type="application/json", headers=reply.headers, background=after
        )
    return EventStreamResponse(reply.body, headers=reply.headers)
