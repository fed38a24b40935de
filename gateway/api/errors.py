"""API: the one place errors become OpenAI-shaped responses."""

from __future__ import annotations

import logging

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from gateway.errors import (
    ClientDisconnectedError,
    GatewayError,
    InvalidRequestError,
    NotFoundError,
    UpstreamError,
)
from gateway.service.context import note_disconnect

log = logging.getLogger("gateway.errors")

_HTTP_TYPES = {401: "authentication_error", 403: "permission_error", 404: "invalid_request_error"}


def error_response(request: Request, err: GatewayError) -> Response:
    headers = err.headers()
    call = getattr(request.state, "call", None)
    if isinstance(err, ClientDisconnectedError):
        note_disconnect(call.request_id if call is not None else "-", "upload")
    if call is not None:
        call.status = err.status
        call.cost_usd = 0.0  # a refused or failed call is not billed: the estimate is void
        if isinstance(err, UpstreamError) and err.request_id:
            call.upstream_request_id = err.request_id
        if call.route:
            headers = call.headers() | headers
    return Response(
        orjson.dumps(err.to_body()),
        status_code=err.status,
        media_type="application/json",
        headers=headers,
    )


async def handle_gateway_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GatewayError)
    return error_response(request, exc)


async def handle_http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own 404/405 answers, reshaped as OpenAI errors."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        err: GatewayError = NotFoundError(
            f"Unknown request URL: {request.method} {request.url.path}.", code="unknown_url"
        )
    else:
        err = InvalidRequestError(str(exc.detail), code=None)
        err.status = exc.status_code
        err.error_type = _HTTP_TYPES.get(exc.status_code, "invalid_request_error")
    return error_response(request, err)


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    """The outermost handler: log the trace, answer a bare 500 without it."""
    call = getattr(request.state, "call", None)
    request_id = call.request_id if call is not None else "-"
    log.error("unhandled error in request %s", request_id, exc_info=exc)
    err = GatewayError(f"The gateway had an internal error (request {request_id}).")
    return error_response(request, err)
