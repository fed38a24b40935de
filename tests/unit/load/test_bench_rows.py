"""Unit tests: request bodies, rows (names, merging, finding, relating), budgets, rows table."""

from __future__ import annotations

import orjson
import pytest
from bench_lib.bodies import direct_request, openai_body, prompt_of, proxy_request
from bench_lib.budgets import budgets
from bench_lib.config import CLIENT_KEY, FLOOR_TOKEN, KB, PROMPT
from bench_lib.report import rows_table
from bench_lib.rows import Row, find, merge_rows, relate, row_name
from bench_lib.wrk import UNIQUE_MARK, WrkResult


def _row(
    target: str,
    stream: bool = False,
    connections: int = 1,
    *,
    p50_us: float = 1000.0,
    rps: float = 100.0,
    cpu_s: float = 1.0,
    requests: int = 1000,
    prompt_bytes: int | None = None,
    cache: str = "off",
) -> Row:
    result = WrkResult(requests=requests, rps=rps, latency_us={"p50": p50_us, "p99": p50_us * 2})
    return Row(
        name=row_name(target, stream, connections, prompt_bytes, cache),
        target=target,
        stream=stream,
        connections=connections,
        result=result,
        cpu_ms_per_req=cpu_s * 1000 / requests,
        emulator_cpu_ms_per_req=None,
        prompt_bytes=prompt_bytes or 0,
        cache=cache,
        cpu_s=cpu_s,
    )


def test_prompt_of() -> None:
    assert prompt_of(None) == PROMPT
    assert prompt_of(None, unique=True) == f"{UNIQUE_MARK} {PROMPT}"
    assert len(prompt_of(10 * KB)) == 10 * KB


def test_bodies_and_requests() -> None:
    body = orjson.loads(openai_body(True, "hi", 0.0))
    assert body["stream"] is True and body["temperature"] == 0.0
    assert "temperature" not in orjson.loads(openai_body(False, "hi"))
    gateway = proxy_request("http://g", True, False, "hi")
    assert gateway.url == "http://g/v1/chat/completions"
    assert gateway.headers["Authorization"] == f"Bearer {CLIENT_KEY}"
    assert gateway.mark == '"choices"'
    assert "Authorization" not in proxy_request("http://f", False, True, "hi").headers
    bearer = direct_request("http://e", False, True, "hi")
    assert bearer.url.endswith("/converse-stream") and "%3A" in bearer.url
    assert bearer.headers["Authorization"] == f"Bearer {FLOOR_TOKEN}"
    assert bearer.mark == "messageStop"


def test_row_names() -> None:
    assert row_name("gateway", False, 16, None, "off") == "gateway plain c16"
    assert row_name("floor", True, 1, 50 * KB, "off") == "floor stream c1 50KB"
    assert row_name("gateway", True, 16, None, "hit") == "gateway stream c16 cache-hit"


def test_merge_rows() -> None:
    runs = [_row("gateway", p50_us=1000, rps=10), _row("gateway", p50_us=3000, rps=30)]
    merged = merge_rows(runs)
    assert merged.rounds == 2
    assert merged.result.requests == 2000
    assert merged.result.rps == pytest.approx(20)
    assert merged.result.p("p50") == pytest.approx(2.0)
    assert merged.cpu_ms_per_req == pytest.approx(1.0)
    assert merged.extra["rounds_rps"] == [10, 30]
    assert merge_rows(runs[:1]) is runs[0]


def test_a_row_keeps_the_peak_rss_it_ended_with() -> None:
    """Rows in run order show which one raised the gateway's VmHWM; merged rounds keep the
    highest."""
    runs = [_row("gateway"), _row("gateway")]
    runs[0].hwm_mb, runs[1].hwm_mb = 77.5, 79.25
    assert merge_rows(runs).hwm_mb == 79.25
    assert runs[0].to_json()["hwm_mb"] == 77.5


def test_find_and_relate() -> None:
    rows = [
        _row("direct", p50_us=500),
        _row("direct-bearer", p50_us=400),
        _row("floor", p50_us=700, rps=200, cpu_s=0.5),
        _row("gateway", p50_us=900, rps=100, cpu_s=1.0),
        _row("gateway", p50_us=5000, prompt_bytes=10 * KB),
        _row("gateway", False, 16, cache="hit"),
    ]
    assert find(rows, "gateway", False, 1) is rows[3]
    assert find(rows, "gateway", False, 1, prompt_bytes=10 * KB) is rows[4]
    assert find(rows, "gateway", False, 16) is None
    assert find(rows, "gateway", False, 16, cache="hit") is rows[5]
    relate(rows)
    assert rows[3].added_p50_ms == pytest.approx(0.4)
    assert rows[2].added_p50_ms == pytest.approx(0.3)
    assert rows[3].floor_cpu_ratio == pytest.approx(2.0)
    assert rows[3].floor_rps_ratio == pytest.approx(0.5)
    assert rows[4].added_p50_ms is None


def test_budgets_and_rows_table() -> None:
    rows = [_row("direct"), _row("floor"), _row("gateway")]
    relate(rows)
    found = budgets(rows, {})
    assert [b.verdict for b in found] == [
        *("N/A", "N/A", "PASS", "N/A", "PASS", "N/A", "N/A"),
        *("N/A", "N/A"),  # no /v1/responses rows
    ]
    assert found[4].name == "gateway errors, every row up to c=1"
    text = rows_table(rows)
    assert text.splitlines()[0].startswith("row")
    assert "gateway plain c1" in text


@pytest.mark.parametrize(
    ("cpu_s", "verdict"),
    [(0.2, "PASS"), (0.4, "OVER")],  # 0.2 / 0.4 ms per request
)
def test_responses_rows_are_held_to_the_chat_cpu_budget(cpu_s: float, verdict: str) -> None:
    rows = [_row("responses", False, 16, cpu_s=cpu_s), _row("floor", False, 16)]
    relate(rows)
    found = {b.name: b for b in budgets(rows, {})}
    assert found["gateway CPU / plain /v1/responses (c=16)"].verdict == verdict
    assert found["gateway CPU / streamed /v1/responses (c=16)"].verdict == "N/A"
