"""E2E: the CLI and policy reloads — admin endpoint, file change, SIGHUP, bad policy refused."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx2 as httpx
import openai
import pytest

from gateway.emulator.runner import RunningEmulator
from tests.e2e.conftest import ADMIN_KEY, KEY, POLICY
from tests.support.process import GatewayProcess
from tests.support.servers import REPO, running_gateway

HELLO = [{"role": "user", "content": "hello"}]
EXTRA_ROUTE = "routes:\n  extra: {strategy: ordered, candidates: [llama3-8b]}\n"


def _policy_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "policies"
    folder.mkdir()
    shutil.copy(POLICY, folder / "10-base.yaml")
    return folder


def _add_route(folder: Path) -> None:
    (folder / "20-extra.yaml").write_text("version: 1\n" + EXTRA_ROUTE)


def _break(folder: Path) -> None:
    (folder / "30-broken.yaml").write_text(
        "version: 1\nroutes:\n  bad: {strategy: cost, candidates: [nope]}\n"
    )


def _has_route(url: str, name: str) -> bool:
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=KEY, max_retries=0)
    return name in {m.id for m in client.models.list()}


def _wait_for(predicate, timeout: float = 8.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_admin_reload_applies_and_bad_policy_is_refused(
    tmp_path: Path, emulator: RunningEmulator
) -> None:
    folder = _policy_dir(tmp_path)
    with running_gateway(policies=folder, api_keys=KEY, admin_key=ADMIN_KEY) as gw:
        url = f"{gw.url}/v1/gateway/reload"
        assert httpx.post(url).status_code == 401
        assert httpx.post(url, headers={"Authorization": f"Bearer {KEY}"}).status_code == 401
        _add_route(folder)
        ok = httpx.post(url, headers={"Authorization": f"Bearer {ADMIN_KEY}"})
        assert ok.status_code == 200, ok.text
        assert _has_route(gw.url, "extra")
        _break(folder)
        refused = httpx.post(url, headers={"Authorization": f"Bearer {ADMIN_KEY}"})
        assert refused.status_code == 400
        error = refused.json()["error"]
        assert "30-broken.yaml" in error["message"] and "nope" in error["message"]
        client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key=KEY, max_retries=0)
        assert client.chat.completions.create(model="extra", messages=HELLO).choices  # type: ignore[arg-type]


def test_file_change_is_picked_up(tmp_path: Path, emulator: RunningEmulator) -> None:
    folder = _policy_dir(tmp_path)
    with running_gateway(policies=folder, api_keys=KEY) as gw:
        assert not _has_route(gw.url, "extra")
        _add_route(folder)
        assert _wait_for(lambda: _has_route(gw.url, "extra"))


def test_configmap_symlink_swap_is_picked_up(tmp_path: Path, emulator: RunningEmulator) -> None:
    """Kubernetes mounts a ConfigMap as symlinks through ``..data``, swapped atomically."""
    mount = tmp_path / "mount"
    mount.mkdir()
    first, second = mount / "..2026_a", mount / "..2026_b"
    first.mkdir()
    shutil.copy(POLICY, first / "policy.yaml")
    (mount / "..data").symlink_to(first.name)
    (mount / "policy.yaml").symlink_to("..data/policy.yaml")
    with running_gateway(policies=mount, api_keys=KEY) as gw:
        assert not _has_route(gw.url, "extra")
        second.mkdir()
        (second / "policy.yaml").write_text(POLICY.read_text().replace("routes:\n", EXTRA_ROUTE, 1))
        tmp_link = mount / "..data_tmp"
        tmp_link.symlink_to(second.name)
        tmp_link.replace(mount / "..data")
        assert _wait_for(lambda: _has_route(gw.url, "extra"))


def test_sighup_reloads_a_served_process(tmp_path: Path, emulator: RunningEmulator) -> None:
    folder = _policy_dir(tmp_path)
    env = {"GATEWAY_POLICIES": str(folder), "GATEWAY_API_KEYS": KEY}
    proc = GatewayProcess(env, log_path=tmp_path / "gw.log").wait_ready()
    try:
        _add_route(folder)
        proc.signal(signal.SIGHUP)
        assert _wait_for(lambda: _has_route(proc.url, "extra"), timeout=5)
        _break(folder)
        proc.signal(signal.SIGHUP)
        time.sleep(0.5)
        assert proc.proc.poll() is None and _has_route(proc.url, "extra")
    finally:
        assert proc.stop() == 0
    assert "policy reload refused" in proc.output()


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


SHIPPED = sorted([*REPO.glob("policies/*.yaml"), *REPO.glob("policies/examples/*.yaml")])


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_check_policy_accepts_every_shipped_file(path: Path) -> None:
    result = _cli("check-policy", str(path))
    assert result.returncode == 0, result.stderr
    assert "route" in result.stdout


def test_check_policy_names_file_line_and_reason(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nmodels: {}\nroutes:\n  r: {strategy: cost, candidates: [ghost]}\n")
    result = _cli("check-policy", str(bad))
    assert result.returncode != 0
    assert "bad.yaml:4" in result.stderr and "ghost" in result.stderr


def test_serve_refuses_to_start_without_a_key() -> None:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    result = _cli("serve", "--port", "1", env=env)
    assert result.returncode == 2
    assert "GATEWAY_API_KEYS" in result.stderr and "--demo" in result.stderr


def test_serve_refuses_a_malformed_region_without_a_traceback() -> None:
    import os

    env = {**os.environ, "GATEWAY_API_KEYS": "k", "AWS_REGION": "bad_region!"}
    result = _cli("serve", "--port", "1", env=env)
    assert result.returncode == 2
    assert "bad_region!" in result.stderr and "AWS_REGION" in result.stderr
    assert "Traceback" not in result.stderr


def test_demo_serves_with_printed_key(tmp_path: Path) -> None:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "AWS_"))}
    proc = GatewayProcess(env, args=["--demo"], log_path=tmp_path / "demo.log").wait_ready()
    try:
        key = next(
            line.split()[-1] for line in proc.output().splitlines() if "client API key" in line
        )
        client = openai.OpenAI(base_url=f"{proc.url}/v1", api_key=key, max_retries=0)
        reply = client.chat.completions.create(model="cheap", messages=HELLO)  # type: ignore[arg-type]
        assert "You said: hello" in (reply.choices[0].message.content or "")
    finally:
        assert proc.stop() == 0


def test_help_describes_the_gateway_and_lists_every_subcommand() -> None:
    result = _cli("--help")
    assert result.returncode == 0
    assert "OpenAI-compatible gateway for Amazon Bedrock" in result.stdout
    assert "``" not in result.stdout and "builds Settings" not in result.stdout
    for command in ("serve", "emulator", "check-policy", "models", "compare"):
        assert f"\n    {command}" in result.stdout, command


def test_serve_listens_on_loopback_unless_told(tmp_path: Path) -> None:
    import os

    from gateway.__main__ import _parser

    assert _parser().parse_args(["serve", "--demo"]).host == "127.0.0.1"
    assert _parser().parse_args(["serve", "--host", "0.0.0.0"]).host == "0.0.0.0"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "AWS_"))}
    proc = GatewayProcess(env, args=["--demo"], log_path=tmp_path / "demo.log", host=None)
    try:
        proc.wait_ready()  # on 127.0.0.1, with no --host given
        assert "demo: listening on 127.0.0.1 (this machine only)" in proc.output()
    finally:
        assert proc.stop() == 0


@pytest.mark.parametrize("workers", [1, 2])
def test_metrics_port_serves_metrics_alone(
    tmp_path: Path, emulator: RunningEmulator, workers: int
) -> None:
    """GATEWAY_METRICS_PORT: /metrics answers there (with its key) and is a 404 on the API
    port, with one worker and with several (the supervisor binds both sockets)."""
    from tests.support.servers import free_port

    metrics_port = free_port()
    env = {
        "GATEWAY_POLICIES": str(POLICY),
        "GATEWAY_API_KEYS": KEY,
        "GATEWAY_METRICS_PORT": str(metrics_port),
        "GATEWAY_METRICS_KEY": "sk-e2e-metrics",
    }
    proc = GatewayProcess(
        env, args=["--workers", str(workers)], log_path=tmp_path / "gw.log"
    ).wait_ready(timeout=40)
    try:
        metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
        auth = {"Authorization": "Bearer sk-e2e-metrics"}
        served = httpx.get(metrics_url, headers=auth, timeout=10)
        assert served.status_code == 200 and b"gateway_build_info" in served.content
        assert httpx.get(metrics_url, timeout=10).status_code == 401
        elsewhere = httpx.get(f"{proc.url}/metrics", headers=auth, timeout=10)
        assert elsewhere.status_code == 404
        assert str(metrics_port) in elsewhere.json()["error"]["message"]
        assert httpx.get(f"{proc.url}/healthz", timeout=10).status_code == 200
    finally:
        assert proc.stop() == 0
