"""API: what every endpoint needs first — the app state, the caller's tenant, the JSON body."""

from __future__ import annotations

import gc
import hmac
import re
from collections.abc import Mapping
from typing import Any

import orjson
from starlette.requests import ClientDisconnect, Request

from gateway.config import Settings, sha256_hex
from gateway.errors import (
    AuthenticationError,
    ClientDisconnectedError,
    InvalidRequestError,
    PermissionDeniedError,
    RequestTooLargeError,
)
from gateway.routing.engine import tenant_for_key_hash
from gateway.schemas.bounds import RequestBounds
from gateway.service.state import GatewayState

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
MAX_JSON_DEPTH = 64
_HEADERS_KEY = "gateway.headers"
LARGE_BODY_BYTES = 1024 * 1024


def request_bounds(settings: Settings) -> RequestBounds:
    return RequestBounds(
        max_messages=settings.max_messages,
        max_content_parts=settings.max_content_parts,
        max_tools=settings.max_tools,
    )


def get_state(request: Request) -> GatewayState:
    state: GatewayState = request.app.state.gateway
    return state


def request_headers(request: Request) -> Mapping[str, str]:
    """The request's headers as one dict (lowercase names; the first of repeated ones, as
    Starlette's ``Headers.get`` answers), built once per request: the model endpoints look up
    several headers and hand them to routing, where each Starlette lookup scans the list."""
    scope = request.scope
    headers: dict[str, str] | None = scope.get(_HEADERS_KEY)
    if headers is None:
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in reversed(scope["headers"])}
        scope[_HEADERS_KEY] = headers
    return headers


def bearer_token(request: Request) -> str:
    header = request_headers(request).get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise AuthenticationError(
            "You didn't provide an API key. Send it as 'Authorization: Bearer <key>'."
        )
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("Malformed Authorization header: expected 'Bearer <key>'.")
    return token.strip()


def authenticate(request: Request, state: GatewayState) -> str:
    """The tenant that owns the presented key. Keys are compared only as SHA-256 hashes."""
    tenant = tenant_for_key_hash(state.policy, sha256_hex(bearer_token(request)))
    if tenant is None:
        raise AuthenticationError("Incorrect API key provided.")
    return tenant


def require_admin(request: Request, state: GatewayState) -> None:
    if state.admin_key_hash is None:
        raise PermissionDeniedError("Admin endpoints are disabled: GATEWAY_ADMIN_KEY is not set.")
    if not hmac.compare_digest(sha256_hex(bearer_token(request)), state.admin_key_hash):
        raise AuthenticationError("Incorrect admin key provided.")


#: At most this many characters of a client's ``model`` reach the access log.
REQUESTED_MODEL_CHARS = 200


def requested_model(body: dict[str, Any]) -> str:
    """The ``model`` the client asked for, for the access log (a name, never a prompt)."""
    model = body.get("model")
    return model[:REQUESTED_MODEL_CHARS] if isinstance(model, str) else ""


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The raw body; refused with 413 before reading past ``max_bytes`` (at once when the
    declared length is over it); a client that hangs up before its body arrived is a
    ``ClientDisconnectedError`` (499)."""
    declared = request_headers(request).get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise RequestTooLargeError(f"Request body exceeds the limit of {max_bytes} bytes.")
    try:
        return await read_bounded(request, max_bytes)
    except ClientDisconnect:
        raise ClientDisconnectedError(
            "The client closed the connection before its request body arrived."
        ) from None


async def read_json_body(request: Request, max_bytes: int) -> dict[str, Any]:
    """The body as a JSON object (see ``read_body`` and ``decode_json_body``)."""
    return decode_json_body(await read_body(request, max_bytes))


def decode_json_body(raw: bytes, *, check_depth: bool = True) -> dict[str, Any]:
    """Decode a JSON object body (400 naming the position of a syntax error).

    orjson holds the GIL while it decodes, so a worker thread would not keep the event loop
    running: the decode stays here, bounded by the body limit, with the cyclic garbage
    collector paused for large bodies (each of its passes over a heap of a million fresh
    objects would otherwise multiply the decode time; figures in the README). Callers with
    count caps check them before ``check_json_depth``, which walks every container."""
    if not raw.strip():
        raise InvalidRequestError("The request body is empty; expected a JSON object.")
    try:
        data = _loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequestError(
            f"We could not parse the JSON body of your request: {exc.msg} at position {exc.pos}."
        ) from None
    if not isinstance(data, dict):
        raise InvalidRequestError("The request body must be a JSON object.")
    if check_depth:
        check_json_depth(data, raw)
    return data


def _loads(raw: bytes) -> Any:
    if len(raw) < LARGE_BODY_BYTES or not gc.isenabled():
        return orjson.loads(raw)
    gc.disable()
    try:
        return orjson.loads(raw)
    finally:
        gc.enable()


def check_json_depth(data: Any, raw: bytes) -> None:
    if _may_nest_deeper(raw, MAX_JSON_DEPTH) and _too_deep(data, MAX_JSON_DEPTH):
        raise InvalidRequestError(f"The JSON body is nested deeper than {MAX_JSON_DEPTH} levels.")


async def read_bounded(request: Request, max_bytes: int) -> bytes:
    """The body as the server hands it over (one piece when its length was declared),
    refused as soon as it passes the limit; read from ``receive`` directly (Starlette's
    ``stream()`` is an async generator the loop tracks, per request)."""
    receive = request.receive
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ClientDisconnect()
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            raise RequestTooLargeError(f"Request body exceeds the limit of {max_bytes} bytes.")
        if not message.get("more_body", False):
            if not chunks:
                return chunk
            chunks.append(chunk)
            return b"".join(chunks)
        chunks.append(chunk)


def _may_nest_deeper(raw: bytes, limit: int) -> bool:
    """A body with fewer opening brackets than the limit cannot nest that deep (cheap test)."""
    return raw.count(b"{") + raw.count(b"[") > limit


def _too_deep(value: Any, limit: int) -> bool:
    """Level by level (no per-item tuples: about 1 s for a million small objects)."""
    level: list[Any] = [value]
    depth = 1
    while level:
        if depth > limit:
            return True
        below: list[Any] = []
        for item in level:
            if isinstance(item, dict):
                below.extend(v for v in item.values() if isinstance(v, dict | list))
            elif isinstance(item, list):
                below.extend(v for v in item if isinstance(v, dict | list))
        level = below
        depth += 1
    return False


def request_id_from(value: str | None) -> str | None:
    """An incoming ``x-request-id`` is echoed only when it is a plain token."""
    if value and _REQUEST_ID.fullmatch(value):
        return value
    return None
