"""Unit tests: SigV4 signing gives byte-for-byte botocore's Authorization header."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from gateway.providers.signing import (
    CredentialSource,
    FrozenCredentials,
    SigV4Signer,
    canonical_uri,
    parse_header_block,
)

FROZEN = dt.datetime(2024, 5, 17, 12, 34, 56, tzinfo=dt.UTC)
MODEL_IDS = [
    "anthropic.claude-3-haiku-20240307-v1:0",
    "us.anthropic.claude-3-5-sonnet-20241022-v2:0",
    "amazon.titan-embed-text-v2:0",
    "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.meta.llama3-1-8b-instruct-v1:0",
    "arn:aws:bedrock:eu-west-1:123456789012:provisioned-model/abc def~x",
]
ENDPOINTS = ["https://bedrock-runtime.us-east-1.amazonaws.com", "http://127.0.0.1:9901"]
BODY = b'{"messages":[{"role":"user","content":[{"text":"hi"}]}]}'


def _botocore_headers(url: str, creds: Credentials, region: str) -> dict[str, str]:
    request = AWSRequest(
        method="POST", url=url, data=BODY, headers={"Content-Type": "application/json"}
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("botocore.auth.get_current_datetime", lambda: FROZEN.replace(tzinfo=None))
        SigV4Auth(creds, "bedrock", region).add_auth(request)
    return dict(request.headers.items())


@pytest.mark.parametrize("model_id", MODEL_IDS)
@pytest.mark.parametrize("token", [None, "IQoJb3JpZ2luX2VjEXAMPLE/TOKEN+=="])
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_authorization_matches_botocore(model_id: str, token: str | None, endpoint: str) -> None:
    region = "us-east-1"
    path = f"/model/{quote(model_id, safe='')}/converse"
    url = endpoint + path
    creds = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    expected = _botocore_headers(url, creds, region)

    signer = SigV4Signer(region)
    block = signer.sign(
        host=urlsplit(url).netloc,
        canonical_path=canonical_uri(path),
        body=BODY,
        credentials=FrozenCredentials(creds.access_key, creds.secret_key, token),
        now=FROZEN.timestamp(),
    )
    assert block.endswith(b"\r\n") and b"\r\n\r\n" not in block
    got = parse_header_block(block)
    assert got["Content-Type"] == "application/json"
    assert got["Authorization"] == expected["Authorization"]
    assert got["X-Amz-Date"] == expected["X-Amz-Date"] == "20240517T123456Z"
    assert got.get("X-Amz-Security-Token") == expected.get("X-Amz-Security-Token")


def test_canonical_uri_encodes_twice() -> None:
    path = "/model/" + quote("a.b-v1:0", safe="") + "/converse"
    assert path == "/model/a.b-v1%3A0/converse"
    assert canonical_uri(path) == "/model/a.b-v1%253A0/converse"
    arn_path = "/model/" + quote("arn:aws:x/y", safe="") + "/invoke"
    assert canonical_uri(arn_path) == "/model/arn%253Aaws%253Ax%252Fy/invoke"


def test_signing_key_is_derived_once_per_secret_and_date() -> None:
    signer = SigV4Signer("eu-west-1")
    first = signer.signing_key("secret", "20240517")
    assert signer.signing_key("secret", "20240517") is first
    assert signer.signing_key("secret", "20240518") != first
    assert signer.signing_key("other", "20240517") != first


class _Refreshable:
    """Mimics botocore's RefreshableCredentials: refresh_needed + get_frozen_credentials."""

    def __init__(self, needs_refresh: bool) -> None:
        self.needs_refresh = needs_refresh
        self.threads: list[int] = []

    def refresh_needed(self) -> bool:
        return self.needs_refresh

    def get_frozen_credentials(self) -> Any:
        self.threads.append(threading.get_ident())
        return Credentials("AK", "SK", "TOK").get_frozen_credentials()


async def test_credential_refresh_runs_in_a_thread() -> None:
    creds = _Refreshable(needs_refresh=True)
    frozen = await CredentialSource(creds).get()
    assert frozen == FrozenCredentials("AK", "SK", "TOK")
    assert creds.threads and creds.threads[0] != threading.get_ident()


async def test_fresh_credentials_are_read_inline() -> None:
    creds = _Refreshable(needs_refresh=False)
    await CredentialSource(creds).get()
    assert creds.threads == [threading.get_ident()]


async def test_plain_attribute_credentials() -> None:
    class Plain:
        access_key = "AK"
        secret_key = "SK"
        token = ""

    assert await CredentialSource(Plain()).get() == FrozenCredentials("AK", "SK", None)
    await asyncio.sleep(0)


async def test_static_credentials_are_frozen_once() -> None:
    class Counting:
        calls = 0

        def get_frozen_credentials(self) -> Any:
            Counting.calls += 1
            return Credentials("AK", "SK").get_frozen_credentials()

    source = CredentialSource(Counting())
    first = await source.get()
    assert await source.get() is first
    assert Counting.calls == 1


async def test_refreshable_credentials_are_rechecked_at_most_every_interval(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import gateway.providers.signing as signing

    clock = [1000.0]
    monkeypatch.setattr("gateway.providers.signing.monotonic", lambda: clock[0])
    checks: list[float] = []

    class Counting(_Refreshable):
        def refresh_needed(self) -> bool:
            checks.append(clock[0])
            return self.needs_refresh

    creds = Counting(needs_refresh=False)
    source = CredentialSource(creds)
    first = await source.get()
    for _ in range(10):
        assert await source.get() is first
    assert len(checks) == 1
    clock[0] += signing.CHECK_INTERVAL_S + 0.1
    creds.needs_refresh = True
    await source.get()
    assert len(checks) == 2
    assert creds.threads[-1] != threading.get_ident()


async def test_concurrent_refresh_runs_once() -> None:
    creds = _Refreshable(needs_refresh=True)
    source = CredentialSource(creds)
    results = await asyncio.gather(*(source.get() for _ in range(5)))
    assert len(creds.threads) == 1
    assert all(result == results[0] for result in results)
