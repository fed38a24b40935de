"""``GET /ui`` in a real headless browser (Debian's chromium driven by Playwright).

Needs ``/usr/bin/chromium`` (``apt-get install -y chromium``) and the ``playwright`` package;
Playwright's own browser download is never used. Set ``GATEWAY_UI_SCREENSHOT=/path.png`` to
save a screenshot of the page after traffic (the README's picture).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from gateway.shadow.runner import ShadowRunner
from tests.e2e.shadow.conftest import ADMIN_KEY, calls_of, chat, settled_report, start_gateway
from tests.support.servers import GatewayServer

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(
        "Debian's chromium is not installed (/usr/bin/chromium): apt-get install -y chromium",
        allow_module_level=True,
    )
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="the playwright package is not installed (pip install playwright)"
)
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=FLAGS
        )
        try:
            yield launched
        finally:
            launched.close()


class PageWatch:
    """A page with its console errors, uncaught exceptions and every URL it requested."""

    def __init__(self, browser: Any) -> None:
        self.page = browser.new_page(viewport={"width": 1400, "height": 1000})
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("request", lambda r: self.requests.append(r.url))

    def close(self) -> None:
        self.page.close()

    def sign_in(self, url: str, key: str) -> Any:
        """Open /ui, meet the sign-in form, post the key; the answer to the redirect."""
        first = self.page.goto(f"{url}/ui")
        assert first is not None and first.status == 401
        self.page.fill("input[name=key]", key)
        with self.page.expect_navigation() as landed:
            self.page.click("button[type=submit]")
        assert all("401" in e for e in self.errors), self.errors  # the sign-in page itself
        self.errors.clear()
        return landed.value


def test_page_shows_routes_and_the_shadow_table_after_traffic(
    browser: Any, runner: ShadowRunner, http: httpx.Client, gateway: GatewayServer
) -> None:
    body = {
        "model": "shadowed",
        "messages": [{"role": "user", "content": "use get_weather <b>now</b>"}],
        "tools": [WEATHER],
    }
    for _ in range(3):
        assert chat(http, body).status_code == 200
    settled_report(http, lambda d: calls_of(d, "shadowed") == 9)
    watch = PageWatch(browser)
    try:
        response = watch.sign_in(gateway.url, ADMIN_KEY)
        assert response is not None and response.status == 200
        assert watch.page.url == f"{gateway.url}/ui"  # the key never in a URL
        watch.page.wait_for_load_state("load")
        (cookie,) = watch.page.context.cookies()
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/ui"
        assert ADMIN_KEY not in cookie["value"]
        routes = watch.page.locator("#routes tbody tr td:first-child").all_inner_texts()
        assert routes == list(gateway.state.policy.routes)
        rows = watch.page.locator("#shadow tbody tr").all_inner_texts()
        shadows = sorted(row.split("\t")[2] for row in rows)
        assert shadows == ["llama3-1-70b", "mistral-large", "nova-lite"]
        assert all(row.split("\t")[:2] == ["shadowed", "claude-3-haiku"] for row in rows)
        assert watch.page.locator("#shadow-chart circle[data-pair]").count() == 3
        legend = watch.page.locator("#shadow-chart g.legend").all_text_contents()
        assert sorted(t.split(" vs ")[0] for t in legend) == shadows
        assert watch.page.locator("#shadow-chart .xtick").count() >= 3
        assert watch.page.locator("#shadow-chart .ytick").count() >= 3
        assert "cost per call" in watch.page.locator("#shadow-chart").text_content()
        decisions = watch.page.locator("#decisions tbody tr").all_inner_texts()
        assert any("shadowed" in row and "claude-3-haiku" in row for row in decisions)
        chosen = watch.page.locator("#decisions td.chosen").all_inner_texts()
        assert chosen and all(name in gateway.state.policy.models for name in chosen)
        folded = watch.page.locator("#decisions details")
        if folded.count():  # details on demand: closed, opened by a click on the summary
            assert not folded.first.locator("ol").is_visible()
            folded.first.locator("summary").click()
            assert folded.first.locator("ol").is_visible()
        models = watch.page.locator("#models").inner_text()
        assert "closed" in models
        watch.page.locator("#shadow-chart circle").first.hover()  # the inline script runs
        assert watch.page.locator("#shadow tr.hl").count() == 1
        if shot := os.environ.get("GATEWAY_UI_SCREENSHOT"):
            watch.page.screenshot(path=shot, full_page=True)
        assert watch.errors == []
        assert all(url.startswith(gateway.url) for url in watch.requests), watch.requests
    finally:
        watch.close()


def test_page_refuses_without_the_admin_key(browser: Any, gateway: GatewayServer) -> None:
    watch = PageWatch(browser)
    try:
        for suffix in ("/ui", f"/ui?key={ADMIN_KEY}"):  # a key in the URL is not looked at
            response = watch.page.goto(gateway.url + suffix)
            assert response is not None and response.status == 401
            assert "admin key" in watch.page.inner_text("body").lower()
            assert watch.page.locator("input[type=password][name=key]").count() == 1
        response = watch.sign_in(gateway.url, "wrong")
        assert response is not None and response.status == 401
        assert "Incorrect admin key" in watch.page.inner_text("#login-message")
        assert watch.page.context.cookies() == []
    finally:
        watch.close()


def test_scripts_use_the_admin_key_as_a_bearer_token(gateway: GatewayServer) -> None:
    ok = httpx.get(f"{gateway.url}/ui", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    assert ok.status_code == 200 and ("shadow-chart" in ok.text or "chart-empty" in ok.text)
    bad = httpx.get(f"{gateway.url}/ui", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    forged = httpx.get(f"{gateway.url}/ui", cookies={"gateway_ui": "0" * 64})
    assert forged.status_code == 401


def test_sign_in_answers_a_cookie_and_refuses_oversized_forms(gateway: GatewayServer) -> None:
    signed = httpx.post(f"{gateway.url}/ui/login", data={"key": ADMIN_KEY})
    assert signed.status_code == 303 and signed.headers["location"] == "/ui"
    cookie = signed.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/ui" in cookie
    assert ADMIN_KEY.lower() not in cookie
    huge = httpx.post(f"{gateway.url}/ui/login", data={"key": "x" * 10_000})
    assert huge.status_code == 413 and "error" in huge.json()


def test_demo_mode_asks_for_the_admin_key_too(browser: Any) -> None:
    server, _ = start_gateway(demo=True)
    watch = PageWatch(browser)
    try:
        response = watch.sign_in(server.url, ADMIN_KEY)
        assert response is not None and response.status == 200
        assert watch.page.locator("#shadow-chart, #chart-empty").count() == 1
        assert watch.errors == []
    finally:
        watch.close()
        server.stop()
