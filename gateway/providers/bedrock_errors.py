"""Providers: the one place Bedrock error codes become ``gateway.errors`` classes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp
import orjson

from gateway.errors import (
    ModelAccessDeniedError,
    ModelNotFoundError,
    ModelNotReadyError,
    ModelRefusedError,
    UpstreamAccessDeniedError,
    UpstreamError,
    UpstreamModelError,
    UpstreamNotFoundError,
    UpstreamServerError,
    UpstreamThrottledError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
    UpstreamValidationError,
)
from gateway.providers.transport import TransportError

MAX_MESSAGE_CHARS = 500

#: Bedrock error code (the exception shape name) -> gateway error class.
ERROR_TABLE: dict[str, type[UpstreamError]] = {
    "ValidationException": UpstreamValidationError,
    # Model access or an IAM policy scoped to models: another candidate may be allowed.
    "AccessDeniedException": ModelAccessDeniedError,
    "UnrecognizedClientException": UpstreamAccessDeniedError,
    "InvalidSignatureException": UpstreamAccessDeniedError,
    "ExpiredTokenException": UpstreamAccessDeniedError,
    # End of life, or a model the region does not offer.
    "ResourceNotFoundException": ModelNotFoundError,
    "ThrottlingException": UpstreamThrottledError,
    "ServiceQuotaExceededException": UpstreamThrottledError,
    "ModelNotReadyException": ModelNotReadyError,
    "ServiceUnavailableException": UpstreamUnavailableError,
    "ModelTimeoutException": UpstreamTimeoutError,
    "InternalServerException": UpstreamServerError,
    "ModelErrorException": UpstreamModelError,
    # A broken stream is worth another attempt (a fallback before the first byte).
    "ModelStreamErrorException": UpstreamServerError,
}

#: Codes whose Bedrock message may name the account, role or key: never passed on.
_CREDENTIAL_CODES = frozenset(
    {
        "AccessDeniedException",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "ExpiredTokenException",
    }
)

#: Statuses that identify the error without a code (e.g. a proxy answering for Bedrock).
_STATUS_FALLBACK: dict[int, type[UpstreamError]] = {
    403: UpstreamAccessDeniedError,
    404: UpstreamNotFoundError,
    408: UpstreamTimeoutError,
    429: UpstreamThrottledError,
    502: UpstreamUnavailableError,
    503: UpstreamUnavailableError,
    504: UpstreamTimeoutError,
}


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, val in headers.items():
        if key.lower() == lowered:
            return val
    return None


def _parse_body(body: bytes) -> dict[str, Any]:
    if not body:
        return {}
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _code_from(headers: Mapping[str, str], parsed: Mapping[str, Any]) -> str:
    header = _header(headers, "x-amzn-ErrorType")
    if header:
        return header.split(":", 1)[0].strip()
    for key in ("code", "Code", "__type"):
        value = parsed.get(key)
        if isinstance(value, str) and value:
            return value.rsplit("#", 1)[-1].split(":", 1)[0].strip()
    return ""


def _message_from(parsed: Mapping[str, Any]) -> str:
    for key in ("message", "Message"):
        value = parsed.get(key)
        if isinstance(value, str):
            return value
    return ""


def _normalise_code(code: str) -> str:
    """``throttlingException`` (stream member name) -> ``ThrottlingException``."""
    return code[:1].upper() + code[1:] if code else code


def build_error(
    cls: type[UpstreamError], code: str, bedrock_message: str, *, model_id: str
) -> UpstreamError:
    """The error with the gateway's message format; credential details are never passed on."""
    if code in _CREDENTIAL_CODES:
        detail = "the gateway's AWS credentials were refused"
        if code == "AccessDeniedException":
            detail = (
                "the gateway's AWS identity may not use this model (check the model access of "
                "the account and the IAM policy of the gateway's role)"
            )
    else:
        detail = bedrock_message.strip() or "no message"
        if len(detail) > MAX_MESSAGE_CHARS:
            detail = detail[: MAX_MESSAGE_CHARS - 3] + "..."
    return cls(f"Bedrock {code or 'error'} for model {model_id}: {detail}")


#: ValidationException texts that are about the model, not the request (lowercase, in order),
#: with the feature the model lacks ("" = the whole model: another candidate may take it).
#: Texts as Bedrock gives them (see the emulator's README for the sources).
MODEL_LEVEL_VALIDATION: tuple[tuple[str, str], ...] = (
    ("with on-demand throughput isn", ""),
    ("provided model identifier is invalid", ""),
    ("reached the end of its life", ""),
    ("doesn't support tool use in streaming mode", "streaming_tools"),
    ("doesn't support tool use", "tools"),
    ("doesn't support system messages", "system"),
    ("doesn't support the image", "images"),
    ("doesn't support image", "images"),
    ("doesn't support the document", "documents"),
    ("doesn't support document", "documents"),
    ("toolchoice", "tool_choice"),
    ("cannot both be specified for this model", "sampling"),
    ("doesn't support", ""),
    ("does not support", ""),
)


def model_level_refusal(message: str) -> tuple[bool, str]:
    """(model-level?, refused feature) for a ValidationException's message."""
    text = message.lower().replace("\u2019", "'")
    for needle, feature in MODEL_LEVEL_VALIDATION:
        if needle in text:
            return True, feature
    return False, ""


def _class_for(code: str, status: int) -> type[UpstreamError]:
    cls = ERROR_TABLE.get(code)
    if cls is not None:
        return cls
    fallback = _STATUS_FALLBACK.get(status)
    if fallback is not None:
        return fallback
    if 400 <= status < 500:
        return UpstreamValidationError
    return UpstreamServerError


def error_from_response(
    status: int, headers: Mapping[str, str], body: bytes, *, model_id: str
) -> UpstreamError:
    """The error for a non-2xx HTTP answer from Bedrock Runtime."""
    parsed = _parse_body(body)
    code = _normalise_code(_code_from(headers, parsed))
    message = _message_from(parsed)
    if not code:
        code = f"HTTP {status}"
    cls = _class_for(code, status)
    if cls is UpstreamValidationError:
        model_level, feature = model_level_refusal(message)
        if model_level:
            refused = build_error(ModelRefusedError, code, message, model_id=model_id)
            refused.refused_feature = feature
            return with_request_id(refused, _header(headers, "x-amzn-RequestId"))
    error = build_error(cls, code, message, model_id=model_id)
    return with_request_id(error, _header(headers, "x-amzn-RequestId"))


def with_request_id(error: UpstreamError, request_id: str | None) -> UpstreamError:
    """Bedrock's request id on the error and at the end of its message (for AWS support)."""
    if request_id:
        error.request_id = request_id
        error.message = f"{error.message} (x-amzn-requestid: {request_id})"
        error.args = (error.message,)
    return error


def is_expired_token(status: int, headers: Mapping[str, str], body: bytes) -> bool:
    """Whether Bedrock refused the call because the credentials' token expired."""
    if status not in (400, 403):
        return False
    code = _normalise_code(_code_from(headers, _parse_body(body)))
    return code == "ExpiredTokenException"


def error_from_stream_exception(
    exception_type: str, payload: bytes, *, model_id: str
) -> UpstreamError:
    """The error for an in-stream exception frame (``:exception-type`` e.g. throttlingException)."""
    code = _normalise_code(exception_type.strip()) or "StreamException"
    message = _message_from(_parse_body(payload))
    cls = ERROR_TABLE.get(code, UpstreamServerError)
    return build_error(cls, code, message, model_id=model_id)


def error_from_stream_error(code: str, message: str, *, model_id: str) -> UpstreamError:
    """The error for an unmodelled in-stream error frame (``:error-code``/``:error-message``)."""
    code = _normalise_code(code.strip()) or "StreamError"
    cls = ERROR_TABLE.get(code, UpstreamServerError)
    return build_error(cls, code, message, model_id=model_id)


def error_from_transport(exc: BaseException, *, model_id: str) -> UpstreamError:
    """The error for a failure below HTTP: refused or reset connection, timeout, cut body.

    Timeouts -> ``UpstreamTimeoutError``; an invalid, oversized or cut-off response ->
    ``UpstreamServerError``; a refused, reset or closed connection, a proxy or TLS failure
    and any other OSError -> ``UpstreamUnavailableError``.
    """
    name = type(exc).__name__
    text = str(exc)[:200]
    if isinstance(exc, TimeoutError):
        return UpstreamTimeoutError(f"Bedrock did not answer in time for model {model_id}")
    if isinstance(exc, aiohttp.ClientPayloadError):
        return UpstreamServerError(
            f"Bedrock response for model {model_id} was cut off: {name}: {text}"
        )
    if isinstance(exc, (aiohttp.ClientResponseError, TransportError)):
        return UpstreamServerError(
            f"Bedrock sent an invalid HTTP response for model {model_id}: {name}"
        )
    # The OS's text names the endpoint's address; the client only learns the kind of failure.
    return UpstreamUnavailableError(f"Bedrock is unreachable for model {model_id} ({name})")
