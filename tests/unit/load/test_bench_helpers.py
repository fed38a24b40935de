"""Unit tests: wrk output parsing, the wrk Lua script, /proc parsing, profiles, floor helpers."""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

import pytest
from bench_lib import procstat, profiling
from bench_lib.report import Budget, budgets_table, table
from bench_lib.wrk import (
    RESULT_PREFIX,
    lua_script,
    lua_string,
    parse_latency_us,
    parse_size,
    parse_wrk_output,
    threads_for,
)

WRK_OUTPUT = """Running 10s test @ http://127.0.0.1:9902/v1/chat/completions
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     5.20ms    1.10ms  40.01ms   90.12%
    Req/Sec     1.55k   120.00     1.80k    70.00%
  Latency Distribution
     50%    4.98ms
     75%    5.50ms
     90%  612.00us
     99%    1.20s
  30912 requests in 10.00s, 20.15MB read
  Socket errors: connect 1, read 2, write 3, timeout 4
  Non-2xx or 3xx responses: 17
Requests/sec:   3090.12
Transfer/sec:      2.01MB
"""


@pytest.mark.parametrize(
    ("text", "micros"),
    [("456.00us", 456.0), ("1.23ms", 1230.0), ("2.00s", 2_000_000.0), ("1.5m", 90_000_000.0)],
)
def test_parse_latency_units(text: str, micros: float) -> None:
    assert parse_latency_us(text) == pytest.approx(micros)


def test_parse_latency_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        parse_latency_us("fast")


@pytest.mark.parametrize(("text", "size"), [("512B", 512), ("1.50KB", 1536), ("2MB", 2 << 20)])
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


def test_parse_wrk_summary() -> None:
    result = parse_wrk_output(WRK_OUTPUT)
    assert result.requests == 30912
    assert result.duration_s == pytest.approx(10.0)
    assert result.bytes_read == round(20.15 * 1024 * 1024)
    assert result.rps == pytest.approx(3090.12)
    assert (result.connect_errors, result.read_errors, result.write_errors) == (1, 2, 3)
    assert result.timeouts == 4
    assert result.non_2xx == 17
    assert result.errors == 1 + 2 + 3 + 4 + 17
    assert result.p("p50") == pytest.approx(4.98)
    assert result.p("p90") == pytest.approx(0.612)
    assert result.p("p99") == pytest.approx(1200.0)
    assert result.p("p99.9") is None


def test_parse_wrk_without_errors_has_none() -> None:
    text = "  100 requests in 1.00s, 10.00KB read\nRequests/sec:    100.00\n"
    result = parse_wrk_output(text)
    assert result.requests == 100
    assert result.errors == 0


def test_result_line_wins_over_the_summary() -> None:
    line = {
        "requests": 30000,
        "duration_us": 10_000_000,
        "bytes": 1000,
        "connect": 0,
        "read": 0,
        "write": 0,
        "status": 2,
        "timeout": 0,
        "bad_bodies": 5,
        "cache_hits": 7,
        "cache_misses": 1,
        "mean": 500.5,
        "max": 9000,
        "p50": 410,
        "p90": 800,
        "p99": 1500,
        "p99.9": 3000,
    }
    result = parse_wrk_output(WRK_OUTPUT + RESULT_PREFIX + json.dumps(line) + "\n")
    assert result.requests == 30000
    assert result.rps == pytest.approx(3000.0)
    assert result.non_2xx == 2
    assert result.bad_bodies == 5
    assert result.errors == 7
    assert (result.cache_hits, result.cache_misses) == (7, 1)
    assert result.p("p50") == pytest.approx(0.41)
    assert result.p("p99.9") == pytest.approx(3.0)


def test_threads_for() -> None:
    assert threads_for(1) == 1
    assert threads_for(16) == 2
    assert threads_for(256) == 2


def test_lua_string_escapes() -> None:
    assert lua_string('a"b\\c\nd') == '"a\\"b\\\\c\\nd"'


def test_lua_script(tmp_path: Path) -> None:
    script = lua_script(tmp_path / "body.json", {"Authorization": "Bearer k"}, "[DONE]")
    assert 'wrk.headers["Authorization"] = "Bearer k"' in script
    assert 'local mark = "[DONE]"' in script
    assert str(tmp_path / "body.json") in script
    assert "function request()" not in script
    assert RESULT_PREFIX in script
    unique = lua_script(tmp_path / "b.json", {}, "x", unique=True)
    assert "function request()" in unique and "@@N@@" in unique


STAT = (
    "4242 (python -m gateway) S 1 4242 4242 0 -1 4194560 9000 0 0 0 "
    "1234 567 0 0 20 0 3 0 100 200000000 20000 18446744073709551615 1 1 0 0 0 0 0 "
    "16781312 16386 0 0 0 17 1 0 0 0 0 0"
)


def test_parse_stat_cpu_ticks_with_spaces_in_the_name() -> None:
    assert procstat.parse_stat_cpu_ticks(STAT) == 1234 + 567


def test_parse_status_memory() -> None:
    status = "Name:\tpython\nVmPeak:\t 900000 kB\nVmHWM:\t   81234 kB\nVmRSS:\t   70000 kB\n"
    assert procstat.parse_status_memory(status) == procstat.Memory(rss_kb=70000, hwm_kb=81234)


def test_proc_of_this_process() -> None:
    import os

    assert procstat.cpu_seconds(os.getpid()) > 0
    memory = procstat.memory(os.getpid())
    assert memory.hwm_kb >= memory.rss_kb > 0


_SITE = "/v/lib/python3.11/site-packages"
COLLAPSED = "\n".join(
    [
        'process 1:"python";<module> (/x/gateway/__main__.py:1);'
        f"run ({_SITE}/uvicorn/server.py:10);dumps ({_SITE}/gateway/api/access_log.py:20) 6",
        f"<module> (/x/gateway/__main__.py:1);call ({_SITE}/starlette/routing.py:5) 3",
        "<module> (/x/gateway/__main__.py:1);sign (/work/main/gateway/providers/signing.py:40) 1",
        "",
        "garbage line",
    ]
)


def test_parse_collapsed_and_tops() -> None:
    stacks = profiling.parse_collapsed(COLLAPSED)
    assert [count for _, count in stacks] == [6, 3, 1]
    assert stacks[0][0][0].startswith("<module>")
    top = profiling.top_own(stacks, 2)
    assert [e.name for e in top] == [
        "dumps (gateway/api/access_log.py:20)",
        "call (starlette/routing.py:5)",
    ]
    assert top[0].share == pytest.approx(0.6)
    own = {e.name: e.samples for e in profiling.by_category(stacks, inclusive=False)}
    assert own == {"access log": 6, "Starlette": 3, "signing": 1}
    inclusive = {e.name: e.samples for e in profiling.by_category(stacks, inclusive=True)}
    assert inclusive["process entry"] == 10
    assert inclusive["uvicorn/httptools"] == 6


def test_short_frame_and_category_of_stdlib() -> None:
    frame = "write (/root/.pyenv/versions/3.11.7/lib/python3.11/asyncio/selector_events.py:9)"
    assert profiling.short_frame(frame) == "write (asyncio/selector_events.py:9)"
    assert profiling.category(frame) == "asyncio/uvloop"
    assert profiling.category("f (/x/lib/python3.11/uuid.py:3)") == "other: uuid.py"


def test_tables_and_budgets() -> None:
    text = table(["row", "n"], [["a", "1"], ["bbb", "22"]])
    assert text.splitlines() == ["row   n", "---  --", "a     1", "bbb  22"]
    over = Budget("cpu", 0.3, 0.25, "ms", 2.9)
    ok = Budget("rss", 60.0, 80.0, "MB")
    missing = Budget("x", None, 1.0, "")
    assert (over.verdict, ok.verdict, missing.verdict) == ("OVER", "PASS", "N/A")
    assert over.to_json()["measured_over_target"] == pytest.approx(1.2)
    rendered = budgets_table([over, ok])
    assert "1.20x" in rendered and "2.90x" in rendered and "OVER" in rendered


def _header(name: str, value: str) -> bytes:
    raw = value.encode()
    return bytes([len(name)]) + name.encode() + b"\x07" + struct.pack(">H", len(raw)) + raw


def test_floor_event_type_and_converse_body() -> None:
    import floor_proxy

    headers = (
        _header(":message-type", "event")
        + b"\x04flag\x00"  # a bool header has no value bytes
        + b"\x03num\x04"
        + struct.pack(">i", 7)
        + _header(":event-type", "contentBlockDelta")
    )
    assert floor_proxy.event_type(headers) == "contentBlockDelta"
    body = floor_proxy.to_converse(
        {
            "model": "m",
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": [{"type": "text", "text": "hi"}]},
            ],
            "max_tokens": 5,
            "temperature": 1.5,
        }
    )
    assert body == {
        "messages": [{"role": "user", "content": [{"text": "hi"}]}],
        "system": [{"text": "be brief"}],
        "inferenceConfig": {"maxTokens": 5, "temperature": 1.0},
    }


def test_the_benchmark_gateway_runs_as_the_image_does(tmp_path: Path) -> None:
    """``PYTHONOPTIMIZE=2`` as in the Dockerfile, with the matching bytecode compiled first
    (a gateway compiling at start would carry that in its resident memory)."""
    from bench_lib.processes import compile_optimized, gateway_env

    env = gateway_env({}, "http://127.0.0.1:1")
    assert env["PYTHONOPTIMIZE"] == "2"
    dockerfile = (Path(__file__).resolve().parents[3] / "Dockerfile").read_text()
    assert f"PYTHONOPTIMIZE={env['PYTHONOPTIMIZE']}" in dockerfile
    package = tmp_path / "gateway"
    package.mkdir()
    (package / "module.py").write_text('"""A docstring."""\n')
    compile_optimized(tmp_path)
    assert [p.name for p in (package / "__pycache__").iterdir()] == [
        f"module.{sys.implementation.cache_tag}.opt-2.pyc"
    ]
