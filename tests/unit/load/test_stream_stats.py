"""Unit tests: the streams benchmark's counting of chunks, outcomes, percentiles and goals."""

from __future__ import annotations

import orjson
import pytest
from bench_lib.report import Budget
from bench_lib.stream_client import build_request
from bench_lib.stream_report import goals
from bench_lib.stream_runs import StreamRun
from bench_lib.stream_stats import (
    MarkCounter,
    StreamRecord,
    distribution,
    peak_flowing,
    percentile,
    rss_at_peak,
    summarize,
)

from gateway.emulator.eventstream import encode_json_event


def _sse(delta: dict[str, object]) -> bytes:
    chunk = {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta}]}
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


SSE_BODY = (
    _sse({"role": "assistant", "content": ""})
    + b"".join(_sse({"content": piece}) for piece in ("He", "llo", '"q"', " "))
    + _sse({})
    + b"data: [DONE]\n\n"
)


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(list(reversed(values)), 100) == 100.0
    assert percentile([], 50) is None
    assert distribution([0.1, 0.2], 1000.0)["max"] == pytest.approx(200.0)


@pytest.mark.parametrize("size", [1, 2, 3, 7, 11, 64, 10_000])
def test_sse_chunks_are_counted_once_however_the_reads_split(size: int) -> None:
    counter = MarkCounter("sse")
    total = sum(counter.feed(SSE_BODY[i : i + size]) for i in range(0, len(SSE_BODY), size))
    assert total == 4  # the role chunk's empty content and the finish chunk do not count
    assert counter.ended


@pytest.mark.parametrize("size", [1, 5, 17, 4096])
def test_frames_are_counted_across_reads(size: int) -> None:
    frames = encode_json_event("messageStart", {"role": "assistant"})
    for piece in ("a", "b", "c"):
        frames += encode_json_event(
            "contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": piece}}
        )
    frames += encode_json_event("metadata", {"usage": {}})
    counter = MarkCounter("frames")
    total = sum(counter.feed(frames[i : i + size]) for i in range(0, len(frames), size))
    assert total == 3 and counter.ended


def test_no_end_mark_is_not_ended() -> None:
    counter = MarkCounter("sse")
    counter.feed(SSE_BODY[: SSE_BODY.index(b"data: [DONE]") + 8])
    assert not counter.ended


def test_outcomes() -> None:
    record = StreamRecord(started=1.0, status=200, chunk_times=[1.1, 1.2, 1.4], ended=True)
    assert record.classify(3, None) == "ok"
    assert record.classify(4, None) == "chunks_3"
    assert record.ttft() == pytest.approx(0.1)
    assert record.gaps() == pytest.approx([0.1, 0.2])
    assert StreamRecord(started=0, status=503).classify(3, None) == "status_503"
    assert StreamRecord(started=0, status=200).classify(3, None) == "no_end"
    assert StreamRecord(started=0).classify(3, "no_first_token") == "no_first_token"


def test_summary_counts_only_complete_streams_in_the_distributions() -> None:
    good = StreamRecord(1.0, 200, [1.1, 1.2], True, 1.3, "ok")
    bad = StreamRecord(1.0, 503, [], False, 1.01, "status_503")
    summary = summarize([good, bad])
    assert summary["ok"] == 1 and summary["errors"] == 1
    assert summary["outcomes"] == {"ok": 1, "status_503": 1}
    assert summary["ttft_ms"]["p50"] == pytest.approx(100.0)
    assert summary["gap_ms"]["count"] == 1.0


def test_rss_at_peak_takes_the_window_of_peak_concurrency() -> None:
    timeline = [[0.0, 0, 0], [1.0, 50, 10], [2.0, 100, 100], [3.0, 98, 98], [4.0, 10, 10]]
    rss = [[0.0, 1000.0], [1.0, 1500.0], [2.0, 3000.0], [3.0, 3100.0], [4.0, 5000.0]]
    assert peak_flowing(timeline) == (100, 100)
    assert rss_at_peak(rss, timeline) == (3100.0, 100)  # not the later 5000 (streams closed)


def test_raw_request_closes_the_connection() -> None:
    spec = {"url": "http://127.0.0.1:9/v1/chat?x=1", "headers": {"A": "b"}, "body": "{}"}
    host, port, raw = build_request(spec)
    assert (host, port) == ("127.0.0.1", 9)
    assert raw.startswith(b"POST /v1/chat?x=1 HTTP/1.1\r\nHost: 127.0.0.1:9\r\nA: b\r\n")
    assert raw.endswith(b"Content-Length: 2\r\nConnection: close\r\n\r\n{}")


def _run(target: str, cpu_s: float, ttft_p99: float, gap_p99: float, flowing: int) -> StreamRun:
    summary = {
        "errors": 0,
        "chunks": 40_000,
        "ttft_ms": {"p99": ttft_p99},
        "gap_ms": {"p99": gap_p99},
    }
    client = {"summary": summary, "timeline": [[0.0, 1000, flowing]]}
    return StreamRun(target, 1000, 1.0, client, cpu_s, 0.0, 50_000, 0, [[0.0, 70_000.0]])


def _verdicts(found: list[Budget]) -> dict[str, str]:
    return {b.name: b.verdict for b in found}


def test_goals_against_the_floor() -> None:
    floor = _run("floor", 3.3, 750.0, 110.0, 1000)
    within = _verdicts(goals(_run("gateway", 4.2, 1700.0, 125.0, 1000), floor))
    assert within["TTFT p99"] == within["gap between chunks p99"] == "PASS"
    assert within["CPU per stream"] == within["RSS per open stream"] == "PASS"  # 20 KB
    over = _verdicts(goals(_run("gateway", 5.4, 1800.0, 140.0, 256), floor))
    assert over["TTFT p99"] == over["gap between chunks p99"] == "OVER"
    assert over["CPU per stream"] == over["streams not flowing at the peak"] == "OVER"


def test_rss_per_stream_is_judged_on_a_process_first_run_only() -> None:
    later = _run("gateway", 4.2, 1700.0, 125.0, 1000)
    later.first = False
    assert later.rss_per_stream_kb() == (70_000.0, None)
    assert _verdicts(goals(later, None))["RSS per open stream"] == "N/A"
