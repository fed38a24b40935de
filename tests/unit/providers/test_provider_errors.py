"""Unit tests: every Bedrock error code maps to the right gateway error, table-driven."""

from __future__ import annotations

import aiohttp
import orjson
import pytest
from aiohttp.client_reqrep import ConnectionKey
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

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
from gateway.providers.bedrock_errors import (
    ERROR_TABLE,
    error_from_response,
    error_from_stream_error,
    error_from_stream_exception,
    error_from_transport,
    is_expired_token,
)
from gateway.providers.transport import BodyTooLarge

MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
_URL = URL("https://bedrock-runtime.us-east-1.amazonaws.com/")
_INFO = aiohttp.RequestInfo(_URL, "POST", CIMultiDictProxy(CIMultiDict()), _URL)
_KEY = ConnectionKey("h", 443, True, True, None, None, None)

# code, HTTP status Bedrock uses, expected class, expected gateway status, retryable
ROWS: list[tuple[str, int, type[UpstreamError], int, bool]] = [
    ("ValidationException", 400, UpstreamValidationError, 400, False),
    ("AccessDeniedException", 403, ModelAccessDeniedError, 403, False),
    ("UnrecognizedClientException", 403, UpstreamAccessDeniedError, 403, False),
    ("InvalidSignatureException", 403, UpstreamAccessDeniedError, 403, False),
    ("ExpiredTokenException", 403, UpstreamAccessDeniedError, 403, False),
    ("ResourceNotFoundException", 404, ModelNotFoundError, 404, False),
    ("ThrottlingException", 429, UpstreamThrottledError, 429, True),
    ("ServiceQuotaExceededException", 400, UpstreamThrottledError, 429, True),
    ("ModelNotReadyException", 429, ModelNotReadyError, 503, True),
    ("ServiceUnavailableException", 503, UpstreamUnavailableError, 503, True),
    ("ModelTimeoutException", 408, UpstreamTimeoutError, 504, True),
    ("InternalServerException", 500, UpstreamServerError, 500, True),
    ("ModelErrorException", 424, UpstreamModelError, 502, False),
    ("ModelStreamErrorException", 424, UpstreamServerError, 500, True),
]
CREDENTIAL_CODES = {
    "AccessDeniedException",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "ExpiredTokenException",
}


def test_table_has_a_test_row_for_every_entry() -> None:
    assert {row[0] for row in ROWS} == set(ERROR_TABLE)


@pytest.mark.parametrize(("code", "status", "cls", "gw_status", "retryable"), ROWS)
def test_code_from_header(
    code: str, status: int, cls: type[UpstreamError], gw_status: int, retryable: bool
) -> None:
    headers = {"x-amzn-ErrorType": f"{code}:http://internal.amazon.com/coral/com.amazon.bedrock/"}
    body = orjson.dumps({"message": "something happened"})
    err = error_from_response(status, headers, body, model_id=MODEL)
    assert type(err) is cls
    assert err.status == gw_status
    assert err.retryable is retryable
    assert err.message.startswith(f"Bedrock {code} for model {MODEL}: ")
    if code == "AccessDeniedException":
        assert "may not use this model" in err.message
        assert "something happened" not in err.message
    elif code in CREDENTIAL_CODES:
        assert "the gateway's AWS credentials were refused" in err.message
        assert "something happened" not in err.message
    else:
        assert err.message.endswith("something happened")


@pytest.mark.parametrize(("code", "status", "cls", "gw_status", "retryable"), ROWS)
@pytest.mark.parametrize("form", ["{code}", "com.amazon.coral#{code}", "aws#{code}:extra"])
@pytest.mark.parametrize("key", ["__type", "code"])
def test_code_from_body(
    code: str,
    status: int,
    cls: type[UpstreamError],
    gw_status: int,
    retryable: bool,
    form: str,
    key: str,
) -> None:
    body = orjson.dumps({key: form.format(code=code), "Message": "boom"})
    err = error_from_response(status, {"Content-Type": "application/json"}, body, model_id=MODEL)
    assert type(err) is cls


@pytest.mark.parametrize(("code", "status", "cls", "gw_status", "retryable"), ROWS)
def test_stream_exception_lower_camel(
    code: str, status: int, cls: type[UpstreamError], gw_status: int, retryable: bool
) -> None:
    member = code[0].lower() + code[1:]
    err = error_from_stream_exception(member, b'{"message":"in stream"}', model_id=MODEL)
    assert type(err) is cls
    assert err.message.startswith(f"Bedrock {code} for model {MODEL}")


def test_header_lookup_is_case_insensitive() -> None:
    err = error_from_response(429, {"X-AMZN-ERRORTYPE": "ThrottlingException"}, b"", model_id=MODEL)
    assert isinstance(err, UpstreamThrottledError)
    assert err.message.endswith(": no message")


def test_header_wins_over_body() -> None:
    body = orjson.dumps({"__type": "ValidationException", "message": "m"})
    err = error_from_response(
        503, {"x-amzn-ErrorType": "ServiceUnavailableException"}, body, model_id=MODEL
    )
    assert isinstance(err, UpstreamUnavailableError)


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, UpstreamValidationError),
        (409, UpstreamValidationError),
        (422, UpstreamValidationError),
        (500, UpstreamServerError),
        (501, UpstreamServerError),
        (429, UpstreamThrottledError),
        (403, UpstreamAccessDeniedError),
        (404, UpstreamNotFoundError),
        (503, UpstreamUnavailableError),
        (504, UpstreamTimeoutError),
    ],
)
def test_unknown_codes_fall_back_on_status(status: int, cls: type[UpstreamError]) -> None:
    err = error_from_response(status, {}, b'{"__type":"WeirdNewException"}', model_id=MODEL)
    assert type(err) is cls
    err = error_from_response(status, {}, b"<html>gateway error</html>", model_id=MODEL)
    assert type(err) is cls
    assert f"HTTP {status}" in err.message


def test_message_is_truncated() -> None:
    body = orjson.dumps({"message": "x" * 5000})
    err = error_from_response(
        400, {"x-amzn-ErrorType": "ValidationException"}, body, model_id=MODEL
    )
    detail = err.message.split(": ", 1)[1]
    assert len(detail) == 500
    assert detail.endswith("...")


def test_access_denied_never_leaks_key_id() -> None:
    body = orjson.dumps(
        {"message": "The security token included in the request is invalid. AKIAIOSFODNN7EXAMPLE"}
    )
    err = error_from_response(
        403, {"x-amzn-ErrorType": "UnrecognizedClientException"}, body, model_id=MODEL
    )
    assert "AKIA" not in err.message
    assert "credentials were refused" in err.message


def test_unknown_stream_exception_is_server_error() -> None:
    err = error_from_stream_exception("somethingNewException", b"not json", model_id=MODEL)
    assert type(err) is UpstreamServerError
    err = error_from_stream_error("", "broken", model_id=MODEL)
    assert type(err) is UpstreamServerError
    assert err.message.endswith("broken")
    err = error_from_stream_error("ThrottlingException", "slow down", model_id=MODEL)
    assert type(err) is UpstreamThrottledError


@pytest.mark.parametrize(
    ("exc", "cls"),
    [
        (TimeoutError(), UpstreamTimeoutError),
        (OSError(113, "no route to host"), UpstreamUnavailableError),
        (aiohttp.SocketTimeoutError("read"), UpstreamTimeoutError),
        (aiohttp.ConnectionTimeoutError("connect"), UpstreamTimeoutError),
        (ConnectionRefusedError(111, "refused"), UpstreamUnavailableError),
        (ConnectionResetError(104, "reset"), UpstreamUnavailableError),
        (aiohttp.ServerDisconnectedError(), UpstreamUnavailableError),
        (aiohttp.ClientConnectionError("the session is closed"), UpstreamUnavailableError),
        (
            aiohttp.ClientProxyConnectionError(_KEY, OSError(111, "refused")),
            UpstreamUnavailableError,
        ),
        (aiohttp.ClientPayloadError("cut"), UpstreamServerError),
        (
            aiohttp.ClientResponseError(_INFO, (), status=400, message="garbage"),
            UpstreamServerError,
        ),
        (BodyTooLarge("big"), UpstreamServerError),
    ],
)
def test_transport_errors(exc: BaseException, cls: type[UpstreamError]) -> None:
    err = error_from_transport(exc, model_id=MODEL)
    assert type(err) is cls
    assert MODEL in err.message


def test_transport_error_does_not_name_the_endpoint_address() -> None:
    exc = ConnectionRefusedError(111, "Connect call failed ('10.1.2.3', 443)")
    err = error_from_transport(exc, model_id="m")
    assert "10.1.2.3" not in err.message and "ConnectionRefusedError" in err.message


def test_request_id_is_on_the_error_and_in_its_message() -> None:
    headers = {"x-amzn-ErrorType": "ThrottlingException:http://x", "x-amzn-RequestId": "rid-1"}
    err = error_from_response(429, headers, b'{"message":"slow"}', model_id=MODEL)
    assert err.request_id == "rid-1"
    assert err.message.endswith("(x-amzn-requestid: rid-1)")
    assert "x-amzn-requestid: rid-1" in err.to_body()["error"]["message"]
    bare = error_from_response(500, {}, b"", model_id=MODEL)
    assert bare.request_id is None and "requestid" not in bare.message


@pytest.mark.parametrize(
    ("status", "headers", "body", "expired"),
    [
        (403, {"x-amzn-ErrorType": "ExpiredTokenException:"}, b"{}", True),
        (403, {}, b'{"__type":"com.amazon#ExpiredTokenException"}', True),
        (400, {}, b'{"code":"ExpiredTokenException"}', True),
        (403, {"x-amzn-ErrorType": "AccessDeniedException:"}, b"{}", False),
        (500, {"x-amzn-ErrorType": "ExpiredTokenException:"}, b"{}", False),
    ],
)
def test_is_expired_token(status: int, headers: dict[str, str], body: bytes, expired: bool) -> None:
    assert is_expired_token(status, headers, body) is expired


# Bedrock's ValidationException texts: model-level (another candidate may take the request)
# with the feature the model lacks, or request-level (final).
VALIDATION_TEXTS: list[tuple[str, bool, str]] = [
    (
        "Invocation of model ID anthropic.claude-3-7-sonnet-20250219-v1:0 with on-demand "
        "throughput isn\u2019t supported. Retry your request with the ID or ARN of an inference "
        "profile that contains this model.",
        True,
        "",
    ),
    ("This model doesn't support tool use in streaming mode.", True, "streaming_tools"),
    ("This model doesn't support tool use.", True, "tools"),
    ("This model doesn't support system messages.", True, "system"),
    ("The provided model identifier is invalid.", True, ""),
    ("`temperature` and `top_p` cannot both be specified for this model.", True, "sampling"),
    (
        "A conversation must start with a user message. Try again with a conversation that "
        "starts with a user message.",
        False,
        "",
    ),
    ("The text field in the ContentBlock object at messages.0.content.0 is blank.", False, ""),
]


@pytest.mark.parametrize(("text", "model_level", "feature"), VALIDATION_TEXTS)
def test_validation_refusals_are_classified(text: str, model_level: bool, feature: str) -> None:
    headers = {"x-amzn-ErrorType": "ValidationException"}
    err = error_from_response(400, headers, orjson.dumps({"message": text}), model_id=MODEL)
    assert err.status == 400
    assert err.model_level is model_level
    assert type(err) is (ModelRefusedError if model_level else UpstreamValidationError)
    assert err.refused_feature == feature
