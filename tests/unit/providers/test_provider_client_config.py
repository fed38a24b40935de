"""Unit tests: BedrockClient configuration from the AWS environment, and the request it sends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web

from gateway.errors import UpstreamAccessDeniedError
from gateway.providers.bedrock import BedrockClient

AWS_VARS = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_BEDROCK_RUNTIME",
    "AWS_BEARER_TOKEN_BEDROCK",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    "AWS_USE_FIPS_ENDPOINT",
    "AWS_USE_DUALSTACK_ENDPOINT",
    "AWS_CA_BUNDLE",
]


@pytest.fixture
def clean_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for name in AWS_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return monkeypatch


@pytest.mark.parametrize(
    ("env", "region", "endpoint"),
    [
        ({}, "us-east-1", "https://bedrock-runtime.us-east-1.amazonaws.com"),
        (
            {"AWS_DEFAULT_REGION": "eu-west-1"},
            "eu-west-1",
            "https://bedrock-runtime.eu-west-1.amazonaws.com",
        ),
        (
            {"AWS_REGION": "eu-central-1", "AWS_DEFAULT_REGION": "eu-west-1"},
            "eu-central-1",
            "https://bedrock-runtime.eu-central-1.amazonaws.com",
        ),
        ({"AWS_ENDPOINT_URL": "http://127.0.0.1:1"}, "us-east-1", "http://127.0.0.1:1"),
        (
            {
                "AWS_ENDPOINT_URL": "http://127.0.0.1:1",
                "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": "http://127.0.0.1:2/",
            },
            "us-east-1",
            "http://127.0.0.1:2",
        ),
        (
            {
                "AWS_ENDPOINT_URL": "http://127.0.0.1:1",
                "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true",
            },
            "us-east-1",
            "https://bedrock-runtime.us-east-1.amazonaws.com",
        ),
        # botocore's resolver: FIPS, dual-stack and the other partitions.
        (
            {"AWS_REGION": "us-west-2", "AWS_USE_FIPS_ENDPOINT": "true"},
            "us-west-2",
            "https://bedrock-runtime-fips.us-west-2.amazonaws.com",
        ),
        (
            {"AWS_REGION": "eu-west-1", "AWS_USE_DUALSTACK_ENDPOINT": "true"},
            "eu-west-1",
            "https://bedrock-runtime.eu-west-1.api.aws",
        ),
        (
            {"AWS_REGION": "us-gov-west-1"},
            "us-gov-west-1",
            "https://bedrock-runtime.us-gov-west-1.amazonaws.com",
        ),
        (
            {"AWS_REGION": "us-gov-west-1", "AWS_USE_FIPS_ENDPOINT": "true"},
            "us-gov-west-1",
            "https://bedrock-runtime-fips.us-gov-west-1.amazonaws.com",
        ),
        (
            {"AWS_REGION": "cn-north-1"},
            "cn-north-1",
            "https://bedrock-runtime.cn-north-1.amazonaws.com.cn",
        ),
        (  # an explicit endpoint still wins over FIPS
            {"AWS_USE_FIPS_ENDPOINT": "true", "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": "http://h:3"},
            "us-east-1",
            "http://h:3",
        ),
    ],
)
async def test_region_and_endpoint(
    clean_aws: pytest.MonkeyPatch, env: dict[str, str], region: str, endpoint: str
) -> None:
    for name, value in env.items():
        clean_aws.setenv(name, value)
    client = await BedrockClient.from_environment()
    try:
        assert client.region == region
        assert client.endpoint_url == endpoint
    finally:
        await client.close()


async def test_the_profile_fips_and_dual_stack_settings_are_read(
    clean_aws: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "config").write_text(
        "[default]\nregion = us-west-2\nuse_fips_endpoint = true\nuse_dualstack_endpoint = true\n"
    )
    client = await BedrockClient.from_environment()
    try:
        assert client.region == "us-west-2"
        assert client.endpoint_url == "https://bedrock-runtime-fips.us-west-2.api.aws"
    finally:
        await client.close()


async def test_missing_credentials_fail_each_call_not_the_start(
    clean_aws: pytest.MonkeyPatch,
) -> None:
    client = await BedrockClient.from_environment()
    try:
        assert not client.has_credentials
        with pytest.raises(UpstreamAccessDeniedError, match="No AWS credentials found"):
            await client.converse("m", b"{}", timeout=1.0)
        with pytest.raises(UpstreamAccessDeniedError, match="No AWS credentials found"):
            await client.converse_stream("m", b"{}", timeout=1.0)
    finally:
        await client.close()


async def test_env_credentials_are_found(clean_aws: pytest.MonkeyPatch) -> None:
    clean_aws.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    clean_aws.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    async with await BedrockClient.from_environment() as client:
        assert client.has_credentials


@pytest.fixture
async def capture_server() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(
            {
                "path": request.raw_path,
                "headers": dict(request.headers),
                "body": await request.read(),
            }
        )
        return web.json_response({"ok": True, "embedding": [0.1]})

    app = web.Application()
    app.router.add_post("/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}", seen
    await runner.cleanup()


async def test_bearer_token_request(
    clean_aws: pytest.MonkeyPatch, capture_server: tuple[str, list[dict[str, Any]]]
) -> None:
    url, seen = capture_server
    clean_aws.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", url)
    clean_aws.setenv("AWS_BEARER_TOKEN_BEDROCK", "bedrock-api-key-xyz")
    async with await BedrockClient.from_environment() as client:
        answer = await client.converse("a.b-v1:0", b'{"messages":[]}', timeout=2.0)
    assert answer["ok"] is True
    request = seen[0]
    assert request["path"] == "/model/a.b-v1%3A0/converse"
    assert request["headers"]["Authorization"] == "Bearer bedrock-api-key-xyz"
    assert "X-Amz-Date" not in request["headers"]
    assert request["body"] == b'{"messages":[]}'


async def test_sigv4_request_shape(capture_server: tuple[str, list[dict[str, Any]]]) -> None:
    url, seen = capture_server

    class Creds:
        access_key = "AKIDEXAMPLE"
        secret_key = "secret"
        token = "session-token"

    async with BedrockClient(url, "us-west-2", Creds()) as client:
        result = await client.invoke_model(
            "arn:aws:bedrock:us-west-2:1:inference-profile/x:0",
            orjson.dumps({"inputText": "hi"}),
            timeout=2.0,
        )
        assert result.body["embedding"] == [0.1]
        assert result.headers["content-type"].startswith("application/json")
        assert client.pool_stats()["in_use"] == 0
    headers = seen[0]["headers"]
    assert (
        seen[0]["path"]
        == "/model/arn%3Aaws%3Abedrock%3Aus-west-2%3A1%3Ainference-profile%2Fx%3A0/invoke"
    )
    assert headers["Host"] == url.removeprefix("http://")
    assert headers["Content-Type"] == "application/json"
    assert headers["Accept"] == "application/json"
    assert headers["X-Amz-Security-Token"] == "session-token"
    assert headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert (
        "/us-west-2/bedrock/aws4_request, SignedHeaders=content-type;host;x-amz-date;"
        "x-amz-security-token, Signature=" in headers["Authorization"]
    )


def test_constructor_rejects_a_bad_endpoint() -> None:
    with pytest.raises(ValueError, match="http"):
        BedrockClient("ftp://x", "us-east-1", None)


def _refreshable(refresh: Any) -> Any:
    from botocore.credentials import RefreshableCredentials

    expired = {
        "access_key": "AK",
        "secret_key": "SK",
        "token": "T",
        "expiry_time": "2000-01-01T00:00:00Z",
    }
    return RefreshableCredentials.create_from_metadata(expired, refresh, "test")


async def test_refreshable_credentials_refresh_off_the_loop(
    capture_server: tuple[str, list[dict[str, Any]]],
) -> None:
    import threading

    url, seen = capture_server
    threads: list[int] = []

    def refresh() -> dict[str, str]:
        threads.append(threading.get_ident())
        return {
            "access_key": "AKNEW",
            "secret_key": "SKNEW",
            "token": "TNEW",
            "expiry_time": "2999-01-01T00:00:00Z",
        }

    async with BedrockClient(url, "us-east-1", _refreshable(refresh)) as client:
        await client.converse("m.x", b"{}", timeout=2.0)
        await client.converse("m.x", b"{}", timeout=2.0)
    assert len(threads) == 1 and threads[0] != threading.get_ident()
    assert seen[0]["headers"]["X-Amz-Security-Token"] == "TNEW"
    assert "Credential=AKNEW/" in seen[1]["headers"]["Authorization"]


async def test_failed_refresh_is_access_denied() -> None:
    from botocore.exceptions import CredentialRetrievalError

    def refresh() -> dict[str, str]:
        raise CredentialRetrievalError(provider="test", error_msg="sso token expired")

    async with BedrockClient("http://127.0.0.1:9", "us-east-1", _refreshable(refresh)) as client:
        with pytest.raises(UpstreamAccessDeniedError, match="could not be loaded"):
            await client.converse("m.x", b"{}", timeout=2.0)
