"""Emulator: Bedrock Runtime errors and their rest-json wire format."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import orjson
from aiohttp import web

_CORAL_SUFFIX = ":http://internal.amazon.com/coral/com.amazon.bedrock/"
_AUTH_SUFFIX = ":http://internal.amazon.com/coral/com.amazon.coral.service/"


class EmulatorError(Exception):
    """An error answered to the client as Bedrock answers it."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        extra: Mapping[str, Any] | None = None,
        *,
        auth: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = dict(extra or {})
        self.auth = auth

    def to_response(self) -> web.Response:
        body: dict[str, Any] = {"message": self.message}
        body.update(self.extra)
        suffix = _AUTH_SUFFIX if self.auth else _CORAL_SUFFIX
        return web.Response(
            status=self.status,
            body=orjson.dumps(body),
            content_type="application/json",
            headers={"x-amzn-RequestId": str(uuid.uuid4()), "x-amzn-ErrorType": self.code + suffix},
        )


def validation_error(message: str) -> EmulatorError:
    return EmulatorError(400, "ValidationException", message)


def auth_error(code: str, message: str) -> EmulatorError:
    return EmulatorError(403, code, message, auth=True)


# Fault mode -> (status, code, message). ModelErrorException gets extra members below.
FAULT_ERRORS: Mapping[str, tuple[int, str, str]] = {
    "throttle": (429, "ThrottlingException", "Too many requests, please wait before trying again."),
    "unavailable": (
        503,
        "ServiceUnavailableException",
        "Bedrock is unable to process your request.",
    ),
    "internal": (
        500,
        "InternalServerException",
        "The server encountered an internal error while processing the request.",
    ),
    "not_ready": (
        429,
        "ModelNotReadyException",
        "Model is not ready to serve inference requests. Try again later.",
    ),
    "model_error": (
        424,
        "ModelErrorException",
        "The model returned an error. Try your request again.",
    ),
    "timeout": (
        408,
        "ModelTimeoutException",
        "Model has timed out in processing the request. Try your request again.",
    ),
    "access_denied": (
        403,
        "AccessDeniedException",
        "You don't have access to the model with the specified model ID.",
    ),
    "validation": (400, "ValidationException", "Emulated validation failure."),
}


def fault_error(mode: str, model_id: str) -> EmulatorError:
    """The error an error-type fault mode answers with."""
    status, code, message = FAULT_ERRORS[mode]
    extra: dict[str, Any] = {}
    if code == "ModelErrorException":
        extra = {"originalStatusCode": 500, "resourceName": model_id}
    return EmulatorError(status, code, message, extra)
