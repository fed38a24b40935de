"""Integration tests: the Bedrock transport through a real forward proxy (tinyproxy), over TLS
with a CA the test generates (trustme), against the emulator (which verifies SigV4)."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import orjson
import pytest
import trustme

from gateway.emulator.credentials import (
    EMULATOR_ACCESS_KEY_ID,
    EMULATOR_REGION,
    EMULATOR_SECRET_ACCESS_KEY,
)
from gateway.emulator.runner import RunningEmulator, start_emulator_in_thread
from gateway.errors import (
    GatewaySaturatedError,
    UpstreamAccessDeniedError,
    UpstreamUnavailableError,
)
from gateway.providers import credentials as credentials_module
from gateway.providers.bedrock import REQUEST_ID_KEY, BedrockClient
from tests.support.servers import free_port
from tests.unit.providers.test_provider_client_config import AWS_VARS

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
NOVA = "amazon.nova-lite-v1:0"
BODY = orjson.dumps({"messages": [{"role": "user", "content": [{"text": "hello there"}]}]})
PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy")


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture(scope="module")
def tls_emu(ca: trustme.CA) -> Iterator[RunningEmulator]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    running = RunningEmulator("127.0.0.1", 0, ssl_context=context).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def emu() -> Iterator[RunningEmulator]:
    running = start_emulator_in_thread("127.0.0.1", 0)
    yield running
    running.stop()


class Tinyproxy:
    """A real tinyproxy on a free loopback port; ``requests()`` counts what it forwarded."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.log = directory / "tinyproxy.log"
        config = directory / "tinyproxy.conf"
        config.write_text(
            f'Port {self.port}\nListen 127.0.0.1\nTimeout 30\nLogFile "{self.log}"\n'
            "LogLevel Connect\nMaxClients 50\nAllow 127.0.0.1\nDisableViaHeader Yes\n"
        )
        self.process = subprocess.Popen(
            ["tinyproxy", "-d", "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with __import__("socket").create_connection(("127.0.0.1", self.port), 0.2):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("tinyproxy did not start")

    def requests(self) -> list[str]:
        """The request lines tinyproxy logged (CONNECT for HTTPS, absolute GET/POST for HTTP)."""
        if not self.log.exists():
            return []
        lines = self.log.read_text(errors="replace").splitlines()
        return [line for line in lines if "Request (file descriptor" in line]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=5)


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tinyproxy]:
    if shutil.which("tinyproxy") is None:
        pytest.skip("tinyproxy is not installed (apt-get install -y tinyproxy)")
    running = Tinyproxy(tmp_path_factory.mktemp("proxy"))
    yield running
    running.stop()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """A clean AWS environment with the emulator's credentials and no proxy."""
    for name in (*AWS_VARS, *PROXY_VARS, "AWS_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_REGION", EMULATOR_REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", EMULATOR_ACCESS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", EMULATOR_SECRET_ACCESS_KEY)
    return monkeypatch


@pytest.fixture
async def started() -> AsyncIterator[list[BedrockClient]]:
    clients: list[BedrockClient] = []
    yield clients
    for client in clients:
        assert client.pool_stats()["in_use"] == 0
        await client.close()


async def _client(clients: list[BedrockClient], **kw: object) -> BedrockClient:
    client = await BedrockClient.from_environment(**kw)  # type: ignore[arg-type]
    clients.append(client)
    return client


async def _text(client: BedrockClient, model: str = HAIKU) -> str:
    answer = await client.converse(model, BODY, timeout=5.0)
    return str(answer["output"]["message"]["content"][0]["text"])


async def test_tls_endpoint_is_trusted_only_through_aws_ca_bundle(
    aws: pytest.MonkeyPatch,
    tls_emu: RunningEmulator,
    ca_file: Path,
    started: list[BedrockClient],
) -> None:
    aws.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", tls_emu.url)
    untrusted = await _client(started)
    with pytest.raises(UpstreamUnavailableError, match="unreachable"):
        await _text(untrusted)
    aws.setenv("AWS_CA_BUNDLE", str(ca_file))
    trusted = await _client(started)
    assert trusted.ca_bundle == str(ca_file)
    assert await _text(trusted)


async def test_profile_ca_bundle_is_honoured(
    aws: pytest.MonkeyPatch,
    tls_emu: RunningEmulator,
    ca_file: Path,
    tmp_path: Path,
    started: list[BedrockClient],
) -> None:
    (tmp_path / "config").write_text(f"[default]\nca_bundle = {ca_file}\n")
    aws.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", tls_emu.url)
    client = await _client(started)
    assert await _text(client)


async def test_https_proxy_carries_the_calls_and_no_proxy_bypasses_it(
    aws: pytest.MonkeyPatch,
    tls_emu: RunningEmulator,
    ca_file: Path,
    proxy: Tinyproxy,
    started: list[BedrockClient],
) -> None:
    aws.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", tls_emu.url)
    aws.setenv("AWS_CA_BUNDLE", str(ca_file))
    aws.setenv("HTTPS_PROXY", proxy.url)
    before = len(proxy.requests())
    calls_before = tls_emu.state.counts().get(HAIKU, {}).get("converse", 0)
    via_proxy = await _client(started)
    assert await _text(via_proxy)
    stream = await via_proxy.converse_stream(HAIKU, BODY, timeout=5.0)
    async with stream:
        assert [event async for event in stream]
    seen = proxy.requests()[before:]
    assert seen and all(f"CONNECT 127.0.0.1:{tls_emu.port}" in line for line in seen)
    assert tls_emu.state.counts()[HAIKU]["converse"] == calls_before + 1

    aws.setenv("NO_PROXY", "127.0.0.1")
    direct = await _client(started)
    before = len(proxy.requests())
    assert await _text(direct)
    assert proxy.requests()[before:] == []


async def test_http_proxy_for_a_plain_http_endpoint(
    aws: pytest.MonkeyPatch, emu: RunningEmulator, proxy: Tinyproxy, started: list[BedrockClient]
) -> None:
    aws.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", emu.url)
    aws.setenv("HTTP_PROXY", proxy.url)
    before = len(proxy.requests())
    client = await _client(started)
    assert await _text(client)  # SigV4 still verifies: the proxy forwards the Host as signed
    seen = proxy.requests()[before:]
    assert len(seen) == 1 and f"POST {emu.url}/model/" in seen[0]


async def test_a_dead_proxy_is_an_unreachable_bedrock_not_a_hang(
    aws: pytest.MonkeyPatch, emu: RunningEmulator, started: list[BedrockClient]
) -> None:
    aws.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", emu.url)
    aws.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")
    client = await _client(started)
    with pytest.raises(UpstreamUnavailableError):
        await _text(client)


async def test_reset_after_the_body_was_sent_is_not_sent_again(
    aws: pytest.MonkeyPatch, emu: RunningEmulator, started: list[BedrockClient]
) -> None:
    aws.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", emu.url)
    client = await _client(started)
    emu.state.reset_calls()
    assert await _text(client)  # a keep-alive connection now sits in the pool
    emu.state.set_fault(HAIKU, "reset", times=1)
    with pytest.raises(UpstreamUnavailableError):
        await _text(client)
    assert emu.state.counts()[HAIKU]["converse"] == 2  # the reset call reached it exactly once
    assert await _text(client)


async def test_a_full_pool_is_the_gateways_saturation(
    aws: pytest.MonkeyPatch, emu: RunningEmulator, started: list[BedrockClient]
) -> None:
    aws.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", emu.url)
    waits: list[tuple[float, bool]] = []
    client = await _client(
        started, pool_size=1, pool_timeout=0.2, on_pool_wait=lambda s, g: waits.append((s, g))
    )
    emu.state.set_fault(HAIKU, "slow", times=1, delay_ms=800)
    slow = asyncio.create_task(_text(client, HAIKU))
    await asyncio.sleep(0.1)
    with pytest.raises(GatewaySaturatedError) as info:
        await _text(client, NOVA)
    assert info.value.status == 503 and info.value.headers()["retry-after"] == "1"
    assert await slow  # the slow model's own call was not cut by the wait of the other
    assert waits and waits[-1][1] is False and waits[-1][0] >= 0.2
    assert await _text(client, NOVA)  # a free slot again


async def test_request_id_reaches_answers_and_errors(
    aws: pytest.MonkeyPatch, emu: RunningEmulator, started: list[BedrockClient]
) -> None:
    aws.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", emu.url)
    client = await _client(started)
    answer = await client.converse(HAIKU, BODY, timeout=5.0)
    assert answer[REQUEST_ID_KEY]["RequestId"]
    emu.state.set_fault(HAIKU, "throttle", times=1)
    with pytest.raises(Exception) as info:
        await client.converse(HAIKU, BODY, timeout=5.0)
    request_id = getattr(info.value, "request_id", None)
    assert request_id and f"(x-amzn-requestid: {request_id})" in str(info.value)


async def test_credentials_that_appear_after_start_are_picked_up(
    aws: pytest.MonkeyPatch, emu: RunningEmulator, tmp_path: Path, started: list[BedrockClient]
) -> None:
    aws.setattr(credentials_module, "RETRY_S", 0.2)
    aws.delenv("AWS_ACCESS_KEY_ID")
    aws.delenv("AWS_SECRET_ACCESS_KEY")
    aws.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", emu.url)
    client = await _client(started)
    assert await client.credentials_problem() is not None
    with pytest.raises(UpstreamAccessDeniedError, match="No AWS credentials found"):
        await _text(client)
    (tmp_path / "credentials").write_text(
        f"[default]\naws_access_key_id = {EMULATOR_ACCESS_KEY_ID}\n"
        f"aws_secret_access_key = {EMULATOR_SECRET_ACCESS_KEY}\n"
    )
    await asyncio.sleep(0.3)
    assert await client.credentials_problem() is None
    assert await _text(client)
