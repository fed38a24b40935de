"""API: ``POST /v1/embeddings`` — the HTTP side: check the caller, read and parse the body; the
service layer routes and calls Bedrock (``service.embeddings``)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from gateway.api.deps import (
    authenticate,
    get_state,
    read_json_body,
    request_headers,
    requested_model,
)
from gateway.api.rendering import render
from gateway.schemas.parse import parse_embedding_request
from gateway.service.context import CallContext
from gateway.service.embeddings import answer_embeddings
from gateway.service.limiting import admit_caller

router = APIRouter()


@router.post("/v1/embeddings")
async def embeddings(request: Request) -> Response:
    state = get_state(request)
    ctx: CallContext = request.state.call
    ctx.tenant = authenticate(request, state)
    await admit_caller(state, ctx)
    body = await read_json_body(request, state.settings.max_body_bytes)
    ctx.requested = requested_model(body)
    req = parse_embedding_request(body)
    return render(await answer_embeddings(state, ctx, req, request_headers(request)))
