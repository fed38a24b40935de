"""Providers: discovery through boto3's real ``bedrock`` client against the strict emulator's
control plane (region from the SigV4 scope), and its failures as ``DiscoveryError``."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import pytest

from gateway.capabilities import MODELS, geography_of
from gateway.emulator.credentials import EMULATOR_ACCESS_KEY_ID, EMULATOR_SECRET_ACCESS_KEY
from gateway.emulator.runner import RunningEmulator, start_emulator_in_thread
from gateway.errors import DiscoveryError
from gateway.providers.discovery import (
    ControlPlane,
    discover,
    discovery_applies,
    fetch_offer,
)
from gateway.routing.offer import Offer, is_offered
from tests.support.emulator_strict import callable_id, offered_in
from tests.support.servers import aws_env, free_port

REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "ap-northeast-1"]


@pytest.fixture(scope="module")
def control_plane() -> Iterator[RunningEmulator]:
    with start_emulator_in_thread(strict=True) as running:
        env = {
            "AWS_ENDPOINT_URL_BEDROCK": running.url,
            "AWS_ACCESS_KEY_ID": EMULATOR_ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": EMULATOR_SECRET_ACCESS_KEY,
        }
        with aws_env(env):
            yield running


def _live(row) -> bool:  # type: ignore[no-untyped-def]
    return row.lifecycle != "eol" and row.eol_date is None


@pytest.mark.parametrize("region", REGIONS)
def test_the_offer_matches_what_the_region_serves(
    control_plane: RunningEmulator, region: str
) -> None:
    offer = fetch_offer(region, 5.0)
    assert offer.region == region and offer.taken_at > 0
    for row in filter(_live, MODELS):
        if offered_in(row, region):
            assert is_offered(callable_id(row, region), offer), row.base_id
        else:
            assert row.base_id not in offer.on_demand, row.base_id
            geos = (*geography_of(region), "global")
            assert not any(f"{geo}.{row.base_id}" in offer.profiles for geo in geos)
        assert (row.base_id in offer.on_demand) == (region in row.on_demand_regions)


def test_every_page_of_profiles_is_read(control_plane: RunningEmulator) -> None:
    whole = fetch_offer("us-east-1", 5.0)
    paged = fetch_offer("us-east-1", 5.0, page_size=1)
    assert len(whole.profiles) > 2
    assert paged.profiles == whole.profiles


def test_discover_runs_in_a_worker_thread_and_keeps_its_client(
    control_plane: RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway.providers import discovery

    threads: list[int] = []
    built: list[object] = []
    real_client = discovery._client

    def counting_client(region: str, timeout_s: float) -> object:
        threads.append(threading.get_ident())
        client = real_client(region, timeout_s)
        built.append(client)
        return client

    monkeypatch.setattr(discovery, "_client", counting_client)
    plane = ControlPlane("us-west-2", 5.0)

    async def main() -> tuple[Offer, Offer, int]:
        first = await plane.discover()
        return first, await plane.discover(), threading.get_ident()

    first, second, loop_thread = asyncio.run(main())
    plane.close()
    assert first.region == "us-west-2" and first.on_demand
    assert second.on_demand == first.on_demand and second.taken_at >= first.taken_at
    assert threads and threads[0] != loop_thread
    assert len(built) == 1  # one client, kept between discoveries


def test_a_failure_drops_the_client(control_plane: RunningEmulator) -> None:
    plane = ControlPlane("us-east-1", 5.0)
    with aws_env({"AWS_ACCESS_KEY_ID": "AKIAWRONGWRONGWRONG1"}), pytest.raises(DiscoveryError):
        plane.fetch()
    assert plane.fetch().on_demand  # a new client, with the right credentials this time
    plane.close()


def test_refused_credentials_are_a_discovery_error(control_plane: RunningEmulator) -> None:
    wrong = aws_env({"AWS_ACCESS_KEY_ID": "AKIAWRONGWRONGWRONG1"})
    with wrong, pytest.raises(DiscoveryError) as caught:
        fetch_offer("us-east-1", 5.0)
    assert "UnrecognizedClient" in caught.value.message


def test_a_dead_endpoint_is_a_discovery_error(control_plane: RunningEmulator) -> None:
    dead = aws_env({"AWS_ENDPOINT_URL_BEDROCK": f"http://127.0.0.1:{free_port()}"})
    with dead, pytest.raises(DiscoveryError) as caught:
        asyncio.run(discover("us-east-1", 2.0))
    assert "EndpointConnectionError" in caught.value.message


def test_a_silent_endpoint_times_out() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with (
            aws_env(
                {
                    "AWS_ENDPOINT_URL_BEDROCK": url,
                    "AWS_ACCESS_KEY_ID": EMULATOR_ACCESS_KEY_ID,
                    "AWS_SECRET_ACCESS_KEY": EMULATOR_SECRET_ACCESS_KEY,
                }
            ),
            pytest.raises(DiscoveryError),
        ):
            fetch_offer("us-east-1", 0.2)


@pytest.mark.parametrize(
    ("mode", "endpoint", "applies"),
    [
        ("auto", "https://bedrock-runtime.us-east-1.amazonaws.com", True),
        ("auto", "https://bedrock-runtime-fips.us-gov-west-1.amazonaws.com", True),
        ("auto", "https://bedrock-runtime.cn-north-1.amazonaws.com.cn", True),
        ("auto", "https://vpce-0a1b.bedrock-runtime.us-east-1.vpce.amazonaws.com", True),
        ("auto", "https://bedrock-runtime.us-east-1.api.aws", True),
        ("auto", "http://127.0.0.1:9901", False),
        ("auto", "http://emulator:9901", False),
        ("auto", "https://amazonaws.com.evil.example", False),
        ("on", "http://127.0.0.1:9901", True),
        ("off", "https://bedrock-runtime.us-east-1.amazonaws.com", False),
    ],
)
def test_when_discovery_applies(mode, endpoint, applies) -> None:  # type: ignore[no-untyped-def]
    assert discovery_applies(mode, endpoint) is applies
