"""API: what every endpoint needs first — the app state, the caller's tenant, the JSON body."""

from __future__ import annotations

import hmac
import re
from typing import Any

import orjson
from starlette.requests import ClientDisconnect, Request

from gateway.api.state import GatewayState
from gateway.config import sha256_hex
from gateway.errors import (
    AuthenticationError,
    ClientDisconnectedError,
    InvalidRequestError,
    PermissionDeniedError,
    RequestTooLargeError,
)
from gateway.routing.engine import tenant_for_key_hash

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
MAX_JSON_DEPTH = 64


def get_state(request: Request) -> GatewayState:
    state: GatewayState = request.app.state.gateway
    return state


def _bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
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
    tenant = tenant_for_key_hash(state.policy, sha256_hex(_bearer_token(request)))
    if tenant is None:
        raise AuthenticationError("Incorrect API key provided.")
    return tenant


def require_admin(request: Request, state: GatewayState) -> None:
    if state.admin_key_hash is None:
        raise PermissionDeniedError("Admin endpoints are disabled: GATEWAY_ADMIN_KEY is not set.")
    if not hmac.compare_digest(sha256_hex(_bearer_token(request)), state.admin_key_hash):
        raise AuthenticationError("Incorrect admin key provided.")


async def read_json_body(request: Request, max_bytes: int) -> dict[str, Any]:
    """The body as a JSON object; refused with 413 before reading past ``max_bytes``; a client
    that hangs up before its body arrived is a ``ClientDisconnectedError`` (499)."""
    declared = request.headers.get("content-length")
    try:
        if declared is not None and declared.isdigit():
            if int(declared) > max_bytes:
                raise RequestTooLargeError(f"Request body exceeds the limit of {max_bytes} bytes.")
            raw = await request.body()  # the server stops at the declared length
        else:
            raw = await _read_bounded(request, max_bytes)
    except ClientDisconnect:
        raise ClientDisconnectedError(
            "The client closed the connection before its request body arrived."
        ) from None
    if not raw.strip():
        raise InvalidRequestError("The request body is empty; expected a JSON object.")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequestError(
            f"We could not parse the JSON body of your request: {exc.msg} at position {exc.pos}."
        ) from None
    if not isinstance(data, dict):
        raise InvalidRequestError("The request body must be a JSON object.")
    if _may_nest_deeper(raw, MAX_JSON_DEPTH) and _too_deep(data, MAX_JSON_DEPTH):
        raise InvalidRequestError(f"The JSON body is nested deeper than {MAX_JSON_DEPTH} levels.")
    return data


async def _read_bounded(request: Request, max_bytes: int) -> bytes:
    """A body of unknown length (chunked upload), refused as soon as it passes the limit."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise RequestTooLargeError(f"Request body exceeds the limit of {max_bytes} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


def _may_nest_deeper(raw: bytes, limit: int) -> bool:
    """A body with fewer opening brackets than the limit cannot nest that deep (cheap test)."""
    return raw.count(b"{") + raw.count(b"[") > limit


def _too_deep(value: Any, limit: int) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values() if isinstance(v, dict | list))
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item if isinstance(v, dict | list))
    return False


def request_id_from(value: str | None) -> str | None:
    """An incoming ``x-request-id`` is echoed only when it is a plain token."""
    if value and _REQUEST_ID.fullmatch(value):
        return value
    return None
