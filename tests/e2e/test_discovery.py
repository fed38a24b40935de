"""E2E: region discovery — a catalogue model the region's listings lack is benched with the
reason (explain shows it) and traffic goes to the next candidate; a dead control plane never
holds serving up. The gateway runs against a strict emulator whose table lacks one model the
gateway's own table thinks the region has (AWS's documentation ahead of an account)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import httpx2 as httpx
import openai
import pytest
import yaml
from openai.types.chat import ChatCompletion

from gateway.capabilities import MODELS, ModelCapabilities
from gateway.emulator.credentials import (
    EMULATOR_ACCESS_KEY_ID,
    EMULATOR_REGION,
    EMULATOR_SECRET_ACCESS_KEY,
)
from gateway.emulator.runner import RunningEmulator, start_emulator_in_thread
from tests.support.emulator_strict import general_model, offered_in
from tests.support.servers import GatewayServer, aws_env, free_port, running_gateway

KEY = "sk-e2e-discovery"
REGION = EMULATOR_REGION
HELLO = [{"role": "user", "content": "hello"}]


def _present() -> ModelCapabilities:
    base = general_model(REGION)
    return next(row for row in MODELS if row.base_id == base)


def _missing() -> ModelCapabilities:
    """Another live chat model the gateway's table says the region offers."""
    return next(
        row
        for row in MODELS
        if row.kind == "chat"
        and row.converse
        and row.lifecycle == "active"
        and row.eol_date is None
        and row.base_id != _present().base_id
        and offered_in(row, REGION)
    )


def _entry(row: ModelCapabilities, price: float) -> dict[str, object]:
    return {
        "bedrock_id": row.base_id,
        "price": {"input_per_mtok": price, "output_per_mtok": price},
        "context_window": row.context_window,
        "max_output_tokens": min(1024, row.max_output_tokens),
    }


def _policy(folder: Path) -> Path:
    """``pick`` (cost) prefers the cheap ``gone`` model, which the region will not list."""
    doc = {
        "version": 1,
        "models": {"gone": _entry(_missing(), 0.01), "here": _entry(_present(), 1.0)},
        "routes": {"pick": {"strategy": "cost", "candidates": ["gone", "here"]}},
        "defaults": {"route": "pick"},
    }
    path = folder / "discovery.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def _env(runtime: str, control: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": runtime,
        "AWS_ENDPOINT_URL_BEDROCK": control,
        "AWS_ACCESS_KEY_ID": EMULATOR_ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": EMULATOR_SECRET_ACCESS_KEY,
        "AWS_REGION": REGION,
    }


def _sample(url: str, name: str) -> float | None:
    for line in httpx.get(f"{url}/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def _wait(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 20
    while not check():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.02)


@pytest.fixture(scope="module")
def shrunk_emulator() -> Iterator[RunningEmulator]:
    gone = _missing().base_id
    table = [
        replace(r, on_demand_regions=frozenset(), profiles=frozenset()) if r.base_id == gone else r
        for r in MODELS
    ]
    with start_emulator_in_thread(strict=True, models=table) as running:
        yield running


@pytest.fixture(scope="module")
def discovering(
    shrunk_emulator: RunningEmulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayServer]:
    policy = _policy(tmp_path_factory.mktemp("discovery"))
    url = shrunk_emulator.url
    with (
        aws_env(_env(url, url)),
        running_gateway(policies=policy, api_keys=KEY, discovery="on") as server,
    ):
        _wait(lambda: server.state.discovery.offer is not None, "the first discovery")
        yield server


def test_explain_names_the_model_the_region_does_not_offer(discovering: GatewayServer) -> None:
    response = httpx.post(
        f"{discovering.url}/v1/gateway/explain",
        json={"model": "pick", "messages": HELLO},
        headers={"Authorization": f"Bearer {KEY}"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    by_name = {c["model"]: c for c in body["candidates"]}
    assert body["model"] == "here"
    assert by_name["gone"]["kept"] is False
    reason = by_name["gone"]["reason"]
    assert reason.startswith(f"benched: not offered in {REGION}: ")
    assert _missing().base_id in reason  # the id called (base id, or the profile chosen)
    assert "ListFoundationModels/ListInferenceProfiles at " in reason


def test_requests_route_to_a_model_the_region_offers(
    discovering: GatewayServer, shrunk_emulator: RunningEmulator
) -> None:
    shrunk_emulator.state.reset_calls()
    client = openai.OpenAI(base_url=f"{discovering.url}/v1", api_key=KEY, max_retries=0)
    raw = client.chat.completions.with_raw_response.create(model="pick", messages=HELLO)
    reply = ChatCompletion.model_validate(raw.parse().model_dump())
    assert reply.choices[0].message.content
    assert raw.headers["x-gateway-model"] == _present().base_id
    assert raw.headers["x-gateway-attempts"] == "1"  # the benched model was never tried
    called = {call["model_id"] for call in shrunk_emulator.state.calls()}
    assert _missing().base_id not in called


def test_discovery_metrics(discovering: GatewayServer) -> None:
    stamp = _sample(discovering.url, "gateway_discovery_last_success_timestamp_seconds")
    assert stamp is not None and stamp > 0
    assert _sample(discovering.url, "gateway_discovery_not_offered_models") == 1
    assert _sample(discovering.url, "gateway_discovery_failures_total") == 0


def test_a_dead_control_plane_never_holds_serving_up(
    shrunk_emulator: RunningEmulator, tmp_path: Path
) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts connections, never answers
    control = f"http://127.0.0.1:{silent.getsockname()[1]}"
    with (
        aws_env(_env(shrunk_emulator.url, control)),
        running_gateway(
            policies=_policy(tmp_path), api_keys=KEY, discovery="on", discovery_timeout_s=30
        ) as server,
    ):
        client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=KEY, max_retries=0)
        assert httpx.get(f"{server.url}/readyz").status_code == 200
        assert server.state.discovery.offer is None  # still waiting on the control plane
        # The catalogue is served as compiled (cost picks the cheap model) while it waits.
        first = client.chat.completions.with_raw_response.create(model="pick", messages=HELLO)
        assert first.headers["x-gateway-route"] == "pick"
        silent.close()  # the pending listing now fails
        _wait(
            lambda: (_sample(server.url, "gateway_discovery_failures_total") or 0) >= 1,
            "the failed discovery to be counted",
        )
        assert _sample(server.url, "gateway_discovery_last_success_timestamp_seconds") == 0
        assert not [e for e in server.state.stats.bench.active() if e.source == "discovery"]
        again = client.chat.completions.create(model="here", messages=HELLO)
        assert again.choices[0].message.content


def test_gateway_models_prints_the_catalogue_for_a_region(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from gateway.__main__ import main

    assert main(["models", "--policies", str(_policy(tmp_path)), "--region", REGION]) == 0
    title, header, *lines = capsys.readouterr().out.splitlines()
    assert title == f"region {REGION}, residency geo (prices USD per Mtok)"
    assert header.split() == [
        "model", "bedrock_id", "invoke", "id", "tier", "$in/out", "$cache", "r/w",
        "features", "lifecycle", "status",
    ]  # fmt: skip
    rows = {line.split()[0]: line.split() for line in lines}
    assert set(rows) == {"gone", "here"}
    assert rows["here"][1:3] == [_present().base_id, _present().base_id]
    assert rows["here"][4] == "1/1" and rows["here"][-1] == "ok"


def test_gateway_models_discover_json(
    shrunk_emulator: RunningEmulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from gateway.__main__ import main

    url = shrunk_emulator.url
    args = ["models", "--policies", str(_policy(tmp_path)), "--region", REGION]
    with aws_env(_env(url, url)):
        assert main([*args, "--discover", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["region"] == REGION and document["discovered_at"] > 0
    by_name = {m["name"]: m for m in document["models"]}
    assert by_name["here"]["status"] == "ok"
    assert by_name["gone"]["status"] == "not offered"
    assert "ListFoundationModels" in by_name["gone"]["detail"]
    extras = [m for m in document["models"] if m["source"] == "discovered"]
    assert extras and all(m["status"] == "not in catalogue" for m in extras)
    assert _present().base_id not in {m["bedrock_id"] for m in extras}


def test_gateway_models_says_when_discovery_failed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from gateway.__main__ import main

    dead = f"http://127.0.0.1:{free_port()}"
    args = ["models", "--policies", str(_policy(tmp_path)), "--region", REGION, "--discover"]
    with aws_env(_env(dead, dead)):
        assert main([*args, "--timeout", "1"]) == 1
    out, err = capsys.readouterr()
    assert "gone" in out and "here" in out  # the catalogue is still printed
    assert f"error: discovery in {REGION} failed: EndpointConnectionError" in err


def test_a_reloaded_catalogue_is_checked_against_the_last_offer(
    shrunk_emulator: RunningEmulator, tmp_path: Path
) -> None:
    path = _policy(tmp_path)
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    only_here = {
        "version": 1,
        "models": {"here": doc["models"]["here"]},
        "routes": {"pick": {"strategy": "cost", "candidates": ["here"]}},
    }
    path.write_text(yaml.safe_dump(only_here), encoding="utf-8")
    url = shrunk_emulator.url
    admin = "sk-e2e-discovery-admin"
    with (
        aws_env(_env(url, url)),
        running_gateway(policies=path, api_keys=KEY, admin_key=admin, discovery="on") as server,
    ):
        _wait(lambda: server.state.discovery.offer is not None, "the first discovery")
        assert server.state.discovery.not_offered == {}
        path.write_text(yaml.safe_dump(doc), encoding="utf-8")
        reloaded = httpx.post(
            f"{server.url}/v1/gateway/reload", headers={"Authorization": f"Bearer {admin}"}
        )
        assert reloaded.status_code == 200, reloaded.text
        _wait(lambda: "gone" in server.state.discovery.not_offered, "the offer re-applied")
        listed = httpx.get(
            f"{server.url}/v1/gateway/benches", headers={"Authorization": f"Bearer {admin}"}
        ).json()["data"]
        (bench,) = [b for b in listed if b["model"] == "gone"]
        assert bench["source"] == "discovery" and bench["seconds_left"] is None
