"""Schemas (HTTP edge): parse request bodies, turning pydantic errors into OpenAI-like 400s."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from gateway.errors import InvalidRequestError
from gateway.schemas.chat import ChatCompletionRequest
from gateway.schemas.embeddings import EmbeddingRequest
from gateway.schemas.responses import ResponsesRequest, check_responses
from gateway.schemas.support import check_supported

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

_EXPECTED: dict[str, str] = {
    "string_type": "a string",
    "list_type": "an array",
    "tuple_type": "an array",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "a boolean",
    "bool_parsing": "a boolean",
    "none_required": "null",
}


def parse_chat_request(obj: object) -> ChatCompletionRequest:
    """Validate a decoded JSON body as a chat request and apply the support policy. Unknown
    top-level fields are kept aside (``req.extras``): a route may allow them as Bedrock
    ``additionalModelRequestFields``; ``check_extras`` refuses the others."""
    body, extras = _split_extras(_require_object(obj), ChatCompletionRequest.model_fields)
    try:
        req = ChatCompletionRequest.model_validate(body, strict=True)
    except ValidationError as exc:
        raise _to_invalid_request(exc, body) from None
    check_supported(req)
    req.extras = extras
    return req


def _split_extras(
    body: Mapping[str, Any], known: Collection[str]
) -> tuple[Mapping[str, Any], dict[str, Any]]:
    """The body's schema fields, and its other top-level fields (the candidates for a route's
    ``extra_fields``), so chat and Responses keep them aside the same way."""
    extras = {key: value for key, value in body.items() if key not in known}
    if extras:
        body = {key: value for key, value in body.items() if key in known}
    return body, extras


def check_extras(extras: Mapping[str, Any], allowed: Collection[str]) -> None:
    """Refuse, as OpenAI does, a top-level field the route does not allow (sorted: stable)."""
    for key in sorted(extras):
        if key not in allowed:
            raise InvalidRequestError(f"Unrecognized request argument supplied: {key}", param=key)


def parse_responses_request(obj: object) -> ResponsesRequest:
    """Validate a decoded JSON body as a Responses request and refuse what Bedrock lacks.
    Unknown top-level fields are kept aside (``req.extras``) as on chat: the chat request
    it becomes carries them, and ``check_extras`` refuses those the route does not allow."""
    body, extras = _split_extras(_require_object(obj), ResponsesRequest.model_fields)
    try:
        req = ResponsesRequest.model_validate(body)
    except ValidationError as exc:
        raise _to_invalid_request(exc, body) from None
    check_responses(req)
    req.extras = extras
    return req


def parse_embedding_request(obj: object) -> EmbeddingRequest:
    """Validate a decoded JSON body as an embeddings request; token-id inputs are refused."""
    body = _require_object(obj)
    try:
        req = EmbeddingRequest.model_validate(body, strict=True)
    except ValidationError as exc:
        raise _to_invalid_request(exc, body) from None
    value = req.input
    if not isinstance(value, str) and not all(isinstance(v, str) for v in value):
        raise InvalidRequestError(
            "Invalid value for 'input': token-id inputs are not supported; Amazon Bedrock "
            "embedding models take text only.",
            param="input",
        )
    if any(not t for t in req.texts):
        raise InvalidRequestError(
            "Invalid value for 'input': empty strings cannot be embedded.", param="input"
        )
    return req


def _require_object(obj: object) -> Mapping[str, Any]:
    if not isinstance(obj, dict):
        raise InvalidRequestError(
            f"The request body must be a JSON object, but got {_describe(obj)}.", param=None
        )
    return obj


def _describe(value: object) -> str:
    """A short type description of a client value (never the value itself)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, Sequence):
        return "an array"
    return "an unknown type"


def _param(loc: tuple[int | str, ...], body: Any) -> tuple[str, int]:
    """OpenAI's spelling of an error location, walking the input to skip union tags."""
    out: list[str] = []
    data = body
    last = len(loc) - 1
    for pos, key in enumerate(loc):
        if isinstance(data, list) and isinstance(key, int):
            out.append(f"[{key}]")
            data = data[key] if 0 <= key < len(data) else None
        elif isinstance(data, dict) and isinstance(key, str):
            if key in data:
                out.append(f".{key}" if out else key)
                data = data[key]
            elif pos == last and _IDENT.match(key):
                out.append(f".{key}" if out else key)
                data = None
    return "".join(out), len(out)


def _to_invalid_request(exc: ValidationError, body: Mapping[str, Any]) -> InvalidRequestError:
    errors = exc.errors(include_url=False, include_input=True)
    located = [(_param(e["loc"], body), e) for e in errors]
    # A constraint error beats a type error (it names the union member the input matched);
    # then the deepest location wins (the most precise field).
    values = [item for item in located if item[1]["type"] not in _EXPECTED]
    (param, _depth), first = max(values or located, key=lambda item: item[0][1])
    if values:
        return _value_error(first, param)
    here = [e for (p, _d), e in located if p == param]
    expected = list(dict.fromkeys(_EXPECTED[e["type"]] for e in here))
    wanted = " or ".join(expected)
    return InvalidRequestError(
        f"Invalid type for '{param}': expected {wanted}, but got {_describe(here[0]['input'])} "
        "instead.",
        param=param,
    )


def _value_error(err: ErrorDetails, param: str) -> InvalidRequestError:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind == "missing":
        return InvalidRequestError(f"Missing required parameter: '{param}'.", param=param)
    if kind == "extra_forbidden":
        if "." not in param and "[" not in param:
            return InvalidRequestError(
                f"Unrecognized request argument supplied: {param}", param=param
            )
        return InvalidRequestError(f"Unrecognized parameter: '{param}'.", param=param)
    if kind == "union_tag_not_found":
        field = str(ctx.get("discriminator", "type")).strip("'")
        name = f"{param}.{field}" if param else field
        return InvalidRequestError(f"Missing required parameter: '{name}'.", param=name)
    if kind == "union_tag_invalid":
        field = str(ctx.get("discriminator", "type")).strip("'")
        name = f"{param}.{field}" if param else field
        expected = ctx.get("expected_tags", "")
        return InvalidRequestError(
            f"Invalid value for '{name}': expected one of {expected}.", param=name
        )
    # pydantic's own messages for constraint errors describe the rule, never the input.
    detail = err["msg"]
    if detail.startswith("Value error, "):
        detail = detail[len("Value error, ") :]
    return InvalidRequestError(f"Invalid value for '{param}': {detail}.", param=param)
