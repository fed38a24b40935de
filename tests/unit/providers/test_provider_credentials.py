"""Unit tests: credentials that rotate or expire after start (a Bedrock API key in a file, an
expired session token), against a local HTTP server that plays Bedrock."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from gateway.errors import UpstreamAccessDeniedError
from gateway.providers import credentials as credentials_module
from gateway.providers.bedrock import BedrockClient
from tests.unit.providers.test_provider_client_config import clean_aws  # noqa: F401

EXPIRED = {"x-amzn-ErrorType": "ExpiredTokenException:", "x-amzn-RequestId": "rid-expired"}


class Bedrock:
    """Answers ``expired`` requests with ExpiredTokenException, then OK; records each one."""

    def __init__(self) -> None:
        self.expired = 0
        self.seen: list[dict[str, str]] = []

    async def handle(self, request: web.Request) -> web.Response:
        await request.read()
        self.seen.append(dict(request.headers))
        if self.expired > 0:
            self.expired -= 1
            body = {"message": "The security token included in the request is expired"}
            return web.json_response(body, status=403, headers=EXPIRED)
        return web.json_response({"ok": True}, headers={"x-amzn-RequestId": "rid-ok"})


@pytest.fixture
async def bedrock() -> AsyncIterator[tuple[str, Bedrock]]:
    fake = Bedrock()
    app = web.Application()
    app.router.add_post("/{tail:.*}", fake.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}", fake
    await runner.cleanup()


async def test_bearer_key_file_is_reread_when_it_changes(
    clean_aws: pytest.MonkeyPatch,  # noqa: F811
    bedrock: tuple[str, Bedrock],
    tmp_path: Path,
) -> None:
    url, fake = bedrock
    clean_aws.setattr(credentials_module, "FILE_CHECK_S", 0.0)
    clean_aws.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", url)
    key_file = tmp_path / "bedrock-api-key"
    key_file.write_text("key-one\n")
    async with await BedrockClient.from_environment(bearer_token_file=str(key_file)) as client:
        assert await client.credentials_problem() is None
        await client.converse("m", b"{}", timeout=2.0)
        key_file.write_text("key-two-rotated\n")
        os.utime(key_file, ns=(1, 1))  # a new stamp even within the same clock tick
        await client.converse("m", b"{}", timeout=2.0)
        key_file.unlink()
        assert await client.credentials_problem() is not None
        with pytest.raises(UpstreamAccessDeniedError, match="GATEWAY_BEARER_TOKEN_FILE"):
            await client.converse("m", b"{}", timeout=2.0)
    assert [h["Authorization"] for h in fake.seen] == ["Bearer key-one", "Bearer key-two-rotated"]


async def _call(client: BedrockClient, stream: bool) -> None:
    if stream:
        opened = await client.converse_stream("m", b"{}", timeout=2.0)
        await opened.aclose()
    else:
        assert (await client.converse("m", b"{}", timeout=2.0))["ok"] is True


@pytest.mark.parametrize("stream", [False, True], ids=["converse", "converse-stream"])
async def test_expired_token_resolves_the_chain_once_and_sends_again(
    clean_aws: pytest.MonkeyPatch,  # noqa: F811
    bedrock: tuple[str, Bedrock],
    stream: bool,
) -> None:
    url, fake = bedrock
    clean_aws.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", url)
    clean_aws.setenv("AWS_ACCESS_KEY_ID", "AKIDOLD")
    clean_aws.setenv("AWS_SECRET_ACCESS_KEY", "old")
    async with await BedrockClient.from_environment() as client:
        clean_aws.setenv("AWS_ACCESS_KEY_ID", "AKIDNEW")  # what the chain now gives
        clean_aws.setenv("AWS_SECRET_ACCESS_KEY", "new")
        fake.expired = 1
        await _call(client, stream)
        assert ["AKIDOLD" in h["Authorization"] for h in fake.seen] == [True, False]

        fake.seen.clear()
        fake.expired = 5  # still expired after a fresh resolution: fail clearly, no loop
        with pytest.raises(UpstreamAccessDeniedError) as info:
            await _call(client, stream)
        assert len(fake.seen) == 2
        assert info.value.request_id == "rid-expired"
        assert "ExpiredTokenException" in info.value.message
