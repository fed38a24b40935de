"""API: ``POST /v1/responses`` and the stored responses (``GET``/``DELETE``, input items).

A Responses request is translated into the equivalent chat request and served by the chat
pipeline (``plan_parsed`` and ``serve_chat``: routing, limits, cache, fallback, shadow); only
how the answer is shown differs (``ResponsesPresenter``). With ``store`` (OpenAI's default) the
response, its input and the conversation so far are kept for ``previous_response_id``.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from gateway.api.deps import (
    authenticate,
    check_json_depth,
    decode_json_body,
    get_state,
    read_body,
    request_bounds,
    request_headers,
    requested_model,
)
from gateway.api.openapi import path_parameters
from gateway.api.rendering import render
from gateway.cache.responses import ResponseStore, StoredResponse
from gateway.errors import InvalidRequestError, NotFoundError, UpstreamError
from gateway.jsonbytes import json_bytes
from gateway.schemas.bounds import (
    check_chat_bytes,
    check_conversation_length,
    check_responses_counts,
)
from gateway.schemas.parse import parse_chat_request, parse_responses_request
from gateway.schemas.responses import ResponsesRequest, stored_items
from gateway.service.answer import serve_chat
from gateway.service.chat import plan_parsed
from gateway.service.context import CallContext, new_id
from gateway.service.limiting import admit_caller
from gateway.service.state import GatewayState
from gateway.service.streaming import ChunkEncoder
from gateway.translation.responses_in import chat_body
from gateway.translation.responses_out import (
    input_item_records,
    request_echo,
    response_from_completion,
)
from gateway.translation.responses_stream import ResponsesStream, sse_events

router = APIRouter()


def _store(state: GatewayState) -> ResponseStore:
    if state.responses is None:  # only before build_state finished
        raise RuntimeError("response store not set")
    return state.responses


def _not_found(response_id: str, param: str | None = None) -> NotFoundError:
    return NotFoundError(
        f"Response with id '{response_id}' not found.", param=param, code="response_not_found"
    )


@router.post(
    "/v1/responses",
    responses={200: {"description": "A response, or an SSE stream of its events"}},
)
async def create_response(request: Request) -> Response:
    state = get_state(request)
    ctx: CallContext = request.state.call
    ctx.tenant = authenticate(request, state)
    await admit_caller(state, ctx)
    body = await _bounded_body(request, state, ctx)
    req = parse_responses_request(body)
    conversation: list[dict[str, Any]] = []
    if req.previous_response_id:
        prior = await _store(state).get(ctx.tenant, req.previous_response_id)
        if prior is None:
            raise _not_found(req.previous_response_id, "previous_response_id")
        conversation = prior.conversation
    translated = chat_body(req, stored_items(conversation))
    check_conversation_length(len(translated["messages"]), request_bounds(state.settings))
    headers = request_headers(request)
    chat = parse_chat_request(translated)
    chat.extras = req.extras  # checked against the route and sent as on chat completions
    plan = await plan_parsed(state, ctx, chat, headers)
    raw_input = body["input"]
    if isinstance(raw_input, str):
        raw_input = [{"type": "message", "role": "user", "content": raw_input}]
    present = ResponsesPresenter(
        state, ctx, req, input_item_records(raw_input, new_id), conversation
    )
    return render(await serve_chat(state, plan, ctx, headers.get("cache-control"), present))


async def _bounded_body(request: Request, state: GatewayState, ctx: CallContext) -> dict[str, Any]:
    """The body under chat's bounds (size, items, content parts, tools, depth), counted
    before any element is validated."""
    raw = await read_body(request, state.settings.max_body_bytes)
    bounds = request_bounds(state.settings)
    check_chat_bytes(raw, bounds, "input")
    body = decode_json_body(raw, check_depth=False)
    ctx.requested = requested_model(body)
    check_responses_counts(body, bounds)
    check_json_depth(body, raw)
    return body


class ResponsesPresenter:
    """Shows the chat pipeline's answer as a ``response`` (or its events) and stores it."""

    def __init__(
        self,
        state: GatewayState,
        ctx: CallContext,
        req: ResponsesRequest,
        input_items: list[dict[str, Any]],
        conversation: list[dict[str, Any]],
    ) -> None:
        self.state = state
        self.ctx = ctx
        self.req = req
        self.input_items = input_items
        self.conversation = conversation
        self.response_id = new_id("resp_")
        self.created_at = int(time.time())
        self.echo = request_echo(req)

    async def body(self, completion: dict[str, Any]) -> bytes:
        response = response_from_completion(
            completion,
            response_id=self.response_id,
            created_at=self.created_at,
            echo=self.echo,
            new_id=new_id,
        )
        await self.keep(response)
        return json_bytes(response)

    def encoder(self) -> ChunkEncoder:
        return ResponsesEncoder(self)

    async def keep(self, response: dict[str, Any]) -> None:
        """``store: true``: the response, its input, and the conversation for continuations."""
        if self.req.store is False or response["status"] == "failed":
            return
        conversation = [*self.conversation, *self.input_items, *response["output"]]
        stored = StoredResponse(response, self.input_items, conversation)
        await _store(self.state).put(self.ctx.tenant, stored)

    def stream(self) -> ResponsesStream:
        return ResponsesStream(
            response_id=self.response_id,
            created_at=self.created_at,
            model=self.ctx.bedrock_id,
            echo=self.echo,
            new_id=new_id,
        )


class ResponsesEncoder:
    """A stream's chunks as Responses events; made before the model is known, so the
    translator is created with the first bytes (after any fallback)."""

    def __init__(self, presenter: ResponsesPresenter) -> None:
        self._presenter = presenter
        self._stream: ResponsesStream | None = None

    def _events(self) -> ResponsesStream:
        if self._stream is None:
            self._stream = self._presenter.stream()
        return self._stream

    def encode(self, chunks: list[dict[str, Any]]) -> bytes:
        return sse_events(self._events().feed(chunks))

    async def finish(self, completion: dict[str, Any]) -> bytes:
        events, final = self._events().finish(completion)
        await self._presenter.keep(final)
        return sse_events(events)

    def fail(self, err: UpstreamError) -> bytes:
        code = "rate_limit_exceeded" if err.status == 429 else "server_error"
        return sse_events(self._events().fail(code, err.message))


_RESPONSE_ID = path_parameters("response_id")


@router.get("/v1/responses/{response_id}", openapi_extra=_RESPONSE_ID)
async def get_response(request: Request) -> Response:
    stored = await _stored(request)
    return Response(orjson.dumps(stored.response), media_type="application/json")


@router.delete("/v1/responses/{response_id}", openapi_extra=_RESPONSE_ID)
async def delete_response(request: Request) -> Response:
    response_id: str = request.path_params["response_id"]
    state = get_state(request)
    tenant = authenticate(request, state)
    if not await _store(state).delete(tenant, response_id):
        raise _not_found(response_id)
    body = {"id": response_id, "object": "response.deleted", "deleted": True}
    return Response(orjson.dumps(body), media_type="application/json")


@router.get("/v1/responses/{response_id}/input_items", openapi_extra=_RESPONSE_ID)
async def list_input_items(request: Request) -> Response:
    """OpenAI's paging: ``order`` (``desc`` by default), ``limit`` (1..100, 20), ``after``."""
    query = request.query_params
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise InvalidRequestError(
            "Invalid value for 'order': expected 'asc' or 'desc'.", param="order"
        )
    raw_limit = query.get("limit", "20")
    limit = int(raw_limit) if raw_limit.isdigit() else 0
    if not 1 <= limit <= 100:
        raise InvalidRequestError(
            "Invalid value for 'limit': expected an integer from 1 to 100.", param="limit"
        )
    after = query.get("after")
    stored = await _stored(request)
    items = stored.input_items if order == "asc" else stored.input_items[::-1]
    if after is not None:
        ids = [item.get("id") for item in items]
        items = items[ids.index(after) + 1 :] if after in ids else []
    page = items[:limit]
    body = {
        "object": "list",
        "data": page,
        "first_id": page[0]["id"] if page else None,
        "last_id": page[-1]["id"] if page else None,
        "has_more": len(items) > limit,
    }
    return Response(orjson.dumps(body), media_type="application/json")


async def _stored(request: Request) -> StoredResponse:
    response_id: str = request.path_params["response_id"]
    state = get_state(request)
    tenant = authenticate(request, state)
    stored = await _store(state).get(tenant, response_id)
    if stored is None:
        raise _not_found(response_id)
    return stored


@router.post("/v1/completions", include_in_schema=False)
async def legacy_completions(request: Request) -> Response:
    """Legacy prompt completions are not served; say which endpoints are."""
    raise NotFoundError(
        "POST /v1/completions (legacy prompt completions) is not served by this gateway: "
        "use POST /v1/chat/completions or POST /v1/responses.",
        code="unknown_url",
    )
