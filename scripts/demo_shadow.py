"""The shadow demo: ``bash scripts/demo.sh --shadow [--port N] [--screenshot PNG]``.

Starts ``gateway serve --demo`` on 127.0.0.1 with ``policies/examples/shadow-demo.yaml`` (every
request of the ``assistant`` route copied to three shadow models), sends a few requests with the
openai SDK (plain, tool, JSON, streamed), waits until the comparison has them, then prints where
to look and keeps serving until Ctrl-C. With ``--screenshot PNG`` it instead signs in to /ui in
Debian's chromium (Playwright, ``/usr/bin/chromium``), saves the page and stops: the README's
picture (``docs/ui.png``) is made this way.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx2 as httpx
import openai

from gateway.shadow.report import iter_pairs

REPO = Path(__file__).resolve().parents[1]
POLICY = "policies/examples/shadow-demo.yaml"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
REQUESTS: list[dict[str, Any]] = [
    {"messages": [{"role": "user", "content": "Summarise the gateway in one line."}]},
    {"messages": [{"role": "user", "content": "What's the weather in Paris?"}], "tools": [WEATHER]},
    {
        "messages": [{"role": "user", "content": "Give three colours."}],
        "response_format": {"type": "json_object"},
    },
    {"messages": [{"role": "user", "content": "Count to five."}], "stream": True},
]


def start(port: int, client_key: str, admin_key: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "GATEWAY_DEMO_KEY": client_key, "GATEWAY_ADMIN_KEY": admin_key}
    command = [sys.executable, "-m", "gateway", "serve", "--demo", "--port", str(port)]
    return subprocess.Popen([*command, "--policies", POLICY], cwd=REPO, env=env)


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the gateway exited ({proc.returncode})")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"the gateway was not ready in {timeout:.0f} s")


def traffic(url: str, client_key: str, admin_key: str, rounds: int) -> int:
    """Send the requests; wait until the comparison counts every shadow call. Calls counted."""
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=client_key, max_retries=0)
    for _ in range(rounds):
        for body in REQUESTS:
            reply = client.chat.completions.create(model="assistant", **body)
            if body.get("stream"):
                for _chunk in reply:
                    pass
    # Shadow calls run after the answers; a model lacking a feature (tools) is never copied
    # to, so wait until the count stops moving rather than for a fixed number.
    deadline = time.monotonic() + 20
    calls, steady = -1, 0
    while time.monotonic() < deadline and steady < 5:
        report = httpx.get(
            f"{url}/v1/gateway/shadow", headers={"Authorization": f"Bearer {admin_key}"}
        ).json()
        now = sum(pair["calls"] for _, pair in iter_pairs(report))
        steady = steady + 1 if now == calls and now > 0 else 0
        calls = now
        time.sleep(0.2)
    return calls


def screenshot(url: str, admin_key: str, path: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=["--headless", "--no-sandbox"]
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{url}/ui")
        page.fill("input[name=key]", admin_key)
        with page.expect_navigation():
            page.click("button[type=submit]")
        page.screenshot(path=str(path), full_page=True)
        browser.close()


def main() -> int:
    parser = argparse.ArgumentParser(prog="demo.sh --shadow", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8080")))
    parser.add_argument("--rounds", type=int, default=3, help="times the request mix is sent")
    parser.add_argument("--screenshot", type=Path, help="save /ui as PNG and stop")
    args = parser.parse_args()
    client_key = os.environ.get("GATEWAY_DEMO_KEY") or "sk-demo-" + secrets.token_urlsafe(16)
    admin_key = os.environ.get("GATEWAY_ADMIN_KEY") or "sk-admin-" + secrets.token_urlsafe(16)
    url = f"http://127.0.0.1:{args.port}"
    proc = start(args.port, client_key, admin_key)
    try:
        wait_ready(url, proc)
        calls = traffic(url, client_key, admin_key, args.rounds)
        print(f"shadow demo: {calls} shadow calls compared", flush=True)
        if args.screenshot is not None:
            screenshot(url, admin_key, args.screenshot)
            print(f"shadow demo: saved {args.screenshot}", flush=True)
            return 0
        print(f"shadow demo: open {url}/ui and sign in with the admin key {admin_key}", flush=True)
        print(f"shadow demo: JSON at {url}/v1/gateway/shadow; Ctrl-C stops", flush=True)
        return proc.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
