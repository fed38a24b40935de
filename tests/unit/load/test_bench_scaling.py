"""Unit tests: the workers scaling run's canned upstream, process-tree CPU and its figures."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from bench_lib.canned_upstream import Canned, answer_bytes
from bench_lib.scaling import (
    ScalingOptions,
    ScalingRun,
    ratios,
    scaling_table,
    summarise,
    tree_pids,
)
from bench_lib.wrk import WrkResult, lua_script

ANSWER = answer_bytes(b'{"output": {}}')


class Recorder:
    """The two transport calls the protocol makes."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def close(self) -> None:
        self.closed = True


def _request(body: bytes, chunked: bool = False) -> bytes:
    length = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(body)}"
    return f"POST /model/m/converse HTTP/1.1\r\nHost: h\r\n{length}\r\n\r\n".encode() + body


def _fed(*chunks: bytes) -> Recorder:
    protocol, transport = Canned(ANSWER), Recorder()
    protocol.connection_made(transport)  # type: ignore[arg-type]
    for chunk in chunks:
        protocol.data_received(chunk)
    return transport


def test_one_answer_per_whole_request_however_the_bytes_arrive() -> None:
    two = _request(b'{"a": 1}') + _request(b"{}")
    assert _fed(two).writes == [ANSWER, ANSWER]  # pipelined in one read
    assert _fed(*(two[i : i + 7] for i in range(0, len(two), 7))).writes == [ANSWER, ANSWER]
    assert _fed(_request(b"12345")[:-1]).writes == []  # the body is not complete yet
    assert _fed(b"GET /health HTTP/1.1\r\nHost: h\r\n\r\n").writes == [ANSWER]


def test_a_chunked_body_closes_the_connection() -> None:
    transport = _fed(_request(b"5\r\nhello\r\n0\r\n\r\n", chunked=True))
    assert transport.closed and transport.writes == []


def test_the_answer_is_a_whole_http_response() -> None:
    head, _, body = ANSWER.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK") and b"Content-Length: 14" in head
    assert body == b'{"output": {}}'


def test_tree_pids_finds_the_children() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert child.pid in tree_pids(os.getpid())
        assert tree_pids(os.getpid())[0] == os.getpid()
    finally:
        child.kill()
        child.wait()


def _run(workers: int, rps: float, gateway_cpu_s: float, **extra: Any) -> ScalingRun:
    result = WrkResult(requests=int(rps * 10), duration_s=10.0, rps=rps)
    result.latency_us = {"p50": 2000.0, "p99": 9000.0}
    values: dict[str, Any] = {
        "workers": workers,
        "round": 1,
        "result": result,
        "elapsed_s": 10.0,
        "gateway_cpu_s": gateway_cpu_s,
        "upstream_cpu_s": 1.0,
        "wrk_cpu_s": 0.5,
        "load_average": 0.3,
    }
    return ScalingRun(**(values | extra))


def test_figures_of_a_run() -> None:
    runs = [
        _run(1, 2000, 9.0),
        _run(2, 3600, 18.0),
        _run(1, 2400, 9.0, round=2),
        _run(2, 3400, 18.0, round=2),
    ]
    one, two = summarise(runs)
    assert (one.rps, two.rps) == (2200, 3500)  # medians
    assert (one.best_rps, two.best_rps) == (2400, 3600)
    assert one.requests == 44_000 and one.gateway_cores == pytest.approx(0.9)
    assert one.gateway_cpu_ms_per_req == pytest.approx(18_000 / 44_000)
    assert two.gateway_cpu_ms_per_req == pytest.approx(36_000 / 70_000)
    assert two.total_cores == pytest.approx(1.8 + 0.1 + 0.05)
    (ratio,) = ratios([one, two])
    assert ratio["throughput_ratio"] == pytest.approx(3500 / 2200)
    assert ratio["gateway_cores_ratio"] == pytest.approx(2.0)
    assert ratio["best_throughput_ratio"] == pytest.approx(1.5)
    # Two cores of their own at 0.514 ms a request against one at 0.409 ms.
    per_request = (18_000 / 44_000) / (36_000 / 70_000)
    assert ratio["dedicated_cores_ratio"] == pytest.approx(2 * per_request)
    text = scaling_table([one, two], ScalingOptions(), cpus=2)
    assert "2 workers / 1: throughput 1.59x" in text and "unpinned on 2 CPUs" in text


def test_without_the_body_check_wrk_calls_no_lua_per_answer(tmp_path: Path) -> None:
    checked = lua_script(tmp_path / "b.json", {"A": "b"}, '"choices"')
    lean = lua_script(tmp_path / "b.json", {"A": "b"}, '"choices"', check_bodies=False)
    assert "function response(" in checked and "function response(" not in lean
    assert "function done(" in lean  # the exact counts and percentiles still come out
