"""Errors: the one exception tree of the gateway, rendered as OpenAI error bodies at the boundary.

Every failure a client can see is a ``GatewayError``. Each subclass fixes the HTTP status and
the OpenAI ``error.type`` so that the openai SDK raises the matching exception class::

    GatewayError                      500 server_error
    ├── InvalidRequestError           400 invalid_request_error   (names the field in ``param``)
    │   └── UnsupportedParameterError 400 invalid_request_error   (a field Bedrock cannot honour)
    ├── RequestTooLargeError          413 invalid_request_error
    ├── AuthenticationError           401 authentication_error
    ├── PermissionDeniedError         403 permission_error
    ├── NotFoundError                 404 invalid_request_error   (unknown model or route)
    ├── RateLimitError                429 rate_limit_error         (``retry-after``)
    │   └── QuotaExceededError        429 insufficient_quota       (budget spent)
    ├── NoCandidateError              400 invalid_request_error   (routing excluded every model)
    ├── GatewaySaturatedError         503 server_error             (no free upstream connection)
    ├── DiscoveryError                503 server_error             (control-plane listings failed;
    │                                                               logged, never sent to a client)
    └── UpstreamError                 502 server_error             (``reason`` labels the failure)
        ├── UpstreamValidationError   400 invalid_request_error   (Bedrock refused the request)
        ├── UpstreamAccessDeniedError 403 permission_error
        ├── UpstreamNotFoundError     404 invalid_request_error
        ├── UpstreamThrottledError    429 rate_limit_error         retryable
        ├── UpstreamUnavailableError  503 server_error             retryable
        ├── UpstreamTimeoutError      504 server_error             retryable
        ├── UpstreamServerError       500 server_error             retryable
        ├── UpstreamModelError        502 server_error             (the model itself failed)
        └── (model-level refusals: ``model_level`` is True; they fall back and bench the model)
            ModelNotFoundError        404 invalid_request_error    (end of life, not offered)
            ModelAccessDeniedError    403 permission_error         (no access to this model)
            ModelRefusedError         400 invalid_request_error    (no profile, lacks a feature)
            ModelNotReadyError        503 server_error             retryable

Request-level refusals (the input is wrong for every model) are final; model-level ones say
the model cannot take this request, so the next candidate may: the client sees a 4xx only
when every candidate refused for its request's own sake.

Bedrock's error codes are mapped onto this tree in one place, ``providers/bedrock_errors.py``;
one handler in ``api/`` renders ``to_body()``. Messages never carry keys, prompts or traces.
"""

from __future__ import annotations

from typing import Any


class GatewayError(Exception):
    """Base of every error a client may see; subclasses set status and OpenAI type."""

    status: int = 500
    error_type: str = "server_error"
    default_code: str | None = None
    retryable: bool = False
    reason: str = "internal"

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code if code is not None else self.default_code
        self.retry_after = retry_after

    def to_body(self) -> dict[str, Any]:
        """The OpenAI error body: all four keys, always present."""
        return {
            "error": {
                "message": self.message,
                "type": self.error_type,
                "param": self.param,
                "code": self.code,
            }
        }

    def headers(self) -> dict[str, str]:
        """Response headers the error implies (``retry-after`` for 429 and 503)."""
        if self.retry_after is None and self.status not in (429, 503):
            return {}
        seconds = self.retry_after if self.retry_after is not None else 1.0
        return {"retry-after": str(max(1, int(seconds + 0.999)))}


class InvalidRequestError(GatewayError):
    status = 400
    error_type = "invalid_request_error"
    reason = "invalid_request"


class UnsupportedParameterError(InvalidRequestError):
    default_code = "unsupported_parameter"


class RequestTooLargeError(GatewayError):
    status = 413
    error_type = "invalid_request_error"
    default_code = "request_too_large"
    reason = "too_large"


class ClientDisconnectedError(GatewayError):
    """The client went away (mid-upload): its own outcome, 499 as nginx names it; never a 500,
    so the 5xx alert stays quiet. The response is never read by anyone."""

    status = 499
    error_type = "invalid_request_error"
    default_code = "client_disconnected"
    reason = "client_disconnected"


class AuthenticationError(GatewayError):
    status = 401
    error_type = "authentication_error"
    default_code = "invalid_api_key"
    reason = "unauthenticated"


class PermissionDeniedError(GatewayError):
    status = 403
    error_type = "permission_error"
    default_code = "permission_denied"
    reason = "forbidden"


class NotFoundError(GatewayError):
    status = 404
    error_type = "invalid_request_error"
    default_code = "model_not_found"
    reason = "not_found"


class RateLimitError(GatewayError):
    status = 429
    error_type = "rate_limit_error"
    default_code = "rate_limit_exceeded"
    reason = "rate_limited"


class QuotaExceededError(RateLimitError):
    error_type = "insufficient_quota"
    default_code = "insufficient_quota"
    reason = "budget_exhausted"


class NoCandidateError(InvalidRequestError):
    default_code = "no_candidate_model"
    reason = "no_candidate"


class DiscoveryError(GatewayError):
    """ListFoundationModels/ListInferenceProfiles failed: the last known offer stays."""

    status = 503
    reason = "discovery_failed"


class GatewaySaturatedError(GatewayError):
    """The gateway's own upstream connection pool stayed full: not the model's fault.

    Not an ``UpstreamError``, so it neither falls back nor counts against a model's circuit.
    """

    status = 503
    default_code = "gateway_saturated"
    reason = "saturated"


class UpstreamError(GatewayError):
    """Bedrock failed. ``reason`` is a fixed label (metrics, fallback accounting).

    ``model_level``: the refusal is about the model (access, lifecycle, region, features), not
    the request; ``refused_feature`` names what it lacks ("" for the whole model).
    ``request_id`` is Bedrock's ``x-amzn-RequestId`` when it answered (to quote to AWS support).
    """

    status = 502
    error_type = "server_error"
    default_code = "upstream_error"
    reason = "server_error"
    model_level = False
    refused_feature = ""
    request_id: str | None = None


class UpstreamValidationError(UpstreamError):
    status = 400
    error_type = "invalid_request_error"
    default_code = "invalid_request"
    reason = "validation"


class UpstreamAccessDeniedError(UpstreamError):
    status = 403
    error_type = "permission_error"
    default_code = "upstream_access_denied"
    reason = "access_denied"


class UpstreamNotFoundError(UpstreamError):
    status = 404
    error_type = "invalid_request_error"
    default_code = "model_not_found"
    reason = "not_found"


class UpstreamThrottledError(UpstreamError):
    status = 429
    error_type = "rate_limit_error"
    default_code = "rate_limit_exceeded"
    retryable = True
    reason = "throttled"


class UpstreamUnavailableError(UpstreamError):
    status = 503
    default_code = "service_unavailable"
    retryable = True
    reason = "unavailable"


class UpstreamTimeoutError(UpstreamError):
    status = 504
    default_code = "timeout"
    retryable = True
    reason = "timeout"


class UpstreamServerError(UpstreamError):
    status = 500
    default_code = "upstream_server_error"
    retryable = True
    reason = "server_error"


class UpstreamMalformedError(UpstreamError):
    """Bedrock answered 200 with a body that is not what its API documents (invalid JSON, a
    Converse answer without ``output.message.content``, usage that is not numbers): a bad
    gateway upstream, not the gateway's own 500. Another candidate may answer properly."""

    status = 502
    default_code = "upstream_malformed_response"
    retryable = True
    reason = "server_error"


class UpstreamModelError(UpstreamError):
    status = 502
    default_code = "model_error"
    reason = "model_error"


class ModelNotFoundError(UpstreamNotFoundError):
    reason = "model_not_found"
    model_level = True


class ModelRefusedError(UpstreamValidationError):
    default_code = "model_unsupported"
    reason = "model_unsupported"
    model_level = True

    def __init__(self, message: str, *, feature: str = "", **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.refused_feature = feature


class ModelAccessDeniedError(UpstreamAccessDeniedError):
    """The account may not use this model (model access, or an IAM policy scoped to models):
    another candidate may be allowed, so it falls back and benches the model."""

    default_code = "model_access_denied"
    reason = "model_access_denied"
    model_level = True


class ModelNotReadyError(UpstreamUnavailableError):
    reason = "model_not_ready"
    model_level = True
