"""Emulator: SigV4 verification against requests signed by botocore's real signer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from multidict import CIMultiDict, CIMultiDictProxy

from gateway.emulator.credentials import (
    EMULATOR_ACCESS_KEY_ID,
    EMULATOR_REGION,
    EMULATOR_SECRET_ACCESS_KEY,
)
from gateway.emulator.errors import EmulatorError
from gateway.emulator.sigv4 import (
    INVALID_TOKEN,
    MISSING_TOKEN,
    SIGNATURE_MISMATCH,
    SigV4Verifier,
    canonical_uri,
)

HOST = "127.0.0.1:9901"
PATH = "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse"
BODY = b'{"messages":[{"role":"user","content":[{"text":"hi"}]}]}'


def _sign(
    secret: str = EMULATOR_SECRET_ACCESS_KEY,
    key_id: str = EMULATOR_ACCESS_KEY_ID,
    path: str = PATH,
    token: str | None = None,
    service: str = "bedrock",
) -> tuple[str, CIMultiDictProxy[str]]:
    request = AWSRequest(
        method="POST",
        url=f"http://{HOST}{path}",
        data=BODY,
        headers={"Content-Type": "application/json"},
    )
    SigV4Auth(Credentials(key_id, secret, token), service, EMULATOR_REGION).add_auth(request)
    headers = CIMultiDict({"Host": HOST, "Content-Length": str(len(BODY))})
    for name, value in request.headers.items():
        headers[name] = value
    return path, CIMultiDictProxy(headers)


@pytest.fixture()
def verifier() -> SigV4Verifier:
    return SigV4Verifier({EMULATOR_ACCESS_KEY_ID: EMULATOR_SECRET_ACCESS_KEY}, ["tok-1"])


def _fails(
    verifier: SigV4Verifier,
    path: str,
    headers: CIMultiDictProxy[str],
    body: bytes = BODY,
    now: datetime | None = None,
) -> EmulatorError:
    with pytest.raises(EmulatorError) as caught:
        verifier.verify("POST", path, headers, body, now)
    assert caught.value.status == 403
    return caught.value


def test_canonical_uri_double_encodes() -> None:
    assert canonical_uri(PATH) == "/model/anthropic.claude-3-haiku-20240307-v1%253A0/converse"


def test_good_signature(verifier: SigV4Verifier) -> None:
    path, headers = _sign()
    verifier.verify("POST", path, headers, BODY)


def test_signing_key_is_cached(verifier: SigV4Verifier) -> None:
    first = verifier.signing_key(EMULATOR_ACCESS_KEY_ID, "20240101", "us-east-1")
    assert verifier.signing_key(EMULATOR_ACCESS_KEY_ID, "20240101", "us-east-1") is first


def test_arn_model_id_with_slash(verifier: SigV4Verifier) -> None:
    arn = "arn%3Aaws%3Abedrock%3Aus-east-1%3A123%3Ainference-profile%2Fus.meta.llama3-8b"
    path, headers = _sign(path=f"/model/{arn}/converse")
    verifier.verify("POST", path, headers, BODY)


def test_wrong_secret(verifier: SigV4Verifier) -> None:
    path, headers = _sign(secret="wrong")
    error = _fails(verifier, path, headers)
    assert (error.code, error.message) == ("InvalidSignatureException", SIGNATURE_MISMATCH)


def test_unknown_key(verifier: SigV4Verifier) -> None:
    path, headers = _sign(key_id="AKIAUNKNOWN")
    error = _fails(verifier, path, headers)
    assert (error.code, error.message) == ("UnrecognizedClientException", INVALID_TOKEN)


def test_tampered_body(verifier: SigV4Verifier) -> None:
    path, headers = _sign()
    error = _fails(verifier, path, headers, body=BODY.replace(b"hi", b"ho"))
    assert error.code == "InvalidSignatureException"


def test_tampered_path(verifier: SigV4Verifier) -> None:
    _, headers = _sign()
    error = _fails(verifier, PATH.replace("%3A", ":"), headers)
    assert error.code == "InvalidSignatureException"


def test_stale_date(verifier: SigV4Verifier) -> None:
    path, headers = _sign()
    later = datetime.now(UTC) + timedelta(minutes=16)
    error = _fails(verifier, path, headers, now=later)
    assert error.code == "InvalidSignatureException"
    assert error.message.startswith("Signature expired: ")


def test_future_date(verifier: SigV4Verifier) -> None:
    path, headers = _sign()
    earlier = datetime.now(UTC) - timedelta(minutes=16)
    assert _fails(verifier, path, headers, now=earlier).message.startswith("Signature not yet")


def test_wrong_service(verifier: SigV4Verifier) -> None:
    path, headers = _sign(service="bedrock-runtime")
    assert "scoped to correct service" in _fails(verifier, path, headers).message


def test_session_token_signed(verifier: SigV4Verifier) -> None:
    path, headers = _sign(token="session-token")
    assert "x-amz-security-token" in headers["Authorization"]
    verifier.verify("POST", path, headers, BODY)


def test_session_token_not_signed(verifier: SigV4Verifier) -> None:
    path, headers = _sign()
    extended = CIMultiDict(headers)
    extended["X-Amz-Security-Token"] = "added-later"
    _fails(verifier, path, CIMultiDictProxy(extended))


def test_missing_authorization(verifier: SigV4Verifier) -> None:
    error = _fails(verifier, PATH, CIMultiDictProxy(CIMultiDict({"Host": HOST})))
    assert (error.code, error.message) == ("MissingAuthenticationTokenException", MISSING_TOKEN)


def test_bearer_token(verifier: SigV4Verifier) -> None:
    good = CIMultiDictProxy(CIMultiDict({"Authorization": "Bearer tok-1"}))
    verifier.verify("POST", PATH, good, BODY)
    bad = CIMultiDictProxy(CIMultiDict({"Authorization": "Bearer tok-2"}))
    assert _fails(verifier, PATH, bad).code == "UnrecognizedClientException"


def test_incomplete_authorization(verifier: SigV4Verifier) -> None:
    headers = CIMultiDictProxy(CIMultiDict({"Authorization": "AWS4-HMAC-SHA256 Credential=x"}))
    assert _fails(verifier, PATH, headers).code == "IncompleteSignatureException"
