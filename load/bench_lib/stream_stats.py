"""Long-lived streams: what one stream saw, and the statistics over many (pure, no I/O)."""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

#: A chat chunk that carries text (``"content":""`` of the role chunk does not count).
SSE_CONTENT = re.compile(rb'"content":"[^"]')
#: A ConverseStream text delta: its ``:event-type`` header value (the emulator direct).
FRAME_CONTENT = re.compile(rb"contentBlockDelta")
#: The end of a stream, by kind.
END_MARKS = {"sse": b"data: [DONE]", "frames": b"metadata"}
PATTERNS = {"sse": SSE_CONTENT, "frames": FRAME_CONTENT}
#: The shortest match of each pattern (what the counter's carried tail is sized by).
MATCH_LENGTHS = {"sse": len(b'"content":"x'), "frames": len(b"contentBlockDelta")}
PERCENTILES = (50, 90, 99)


def percentile(values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile of ``values`` (sorted or not); None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def distribution(values: Sequence[float], scale: float = 1.0) -> dict[str, float | None]:
    """p50 / p90 / p99 / max (times ``scale``) and the count."""
    ordered = sorted(values)
    out: dict[str, float | None] = {
        f"p{p}": (None if (v := percentile(ordered, p)) is None else v * scale) for p in PERCENTILES
    }
    out["max"] = ordered[-1] * scale if ordered else None
    out["count"] = float(len(ordered))
    return out


class MarkCounter:
    """Counts a pattern across reads: a match cut by a read boundary is counted once, in the
    read that completes it (the tail kept is one byte shorter than the shortest match)."""

    __slots__ = ("_end", "_end_tail", "_keep", "_pattern", "_tail", "ended")

    def __init__(self, kind: str) -> None:
        self._pattern = PATTERNS[kind]
        self._keep = MATCH_LENGTHS[kind] - 1
        self._end = END_MARKS[kind]
        self._tail = b""
        self._end_tail = b""
        self.ended = False

    def feed(self, data: bytes) -> int:
        """How many matches ``data`` completes; sets ``ended`` once the end mark arrived."""
        window = self._tail + data
        count = len(self._pattern.findall(window))
        self._tail = window[-self._keep :]
        if not self.ended:
            ending = self._end_tail + data
            self.ended = self._end in ending
            self._end_tail = ending[1 - len(self._end) :]
        return count


@dataclass
class StreamRecord:
    """One stream: when it started, its status, the arrival time of each content chunk."""

    started: float
    status: int | None = None
    chunk_times: list[float] = field(default_factory=list)
    ended: bool = False
    finished: float | None = None
    outcome: str = "pending"

    def ttft(self) -> float | None:
        return self.chunk_times[0] - self.started if self.chunk_times else None

    def gaps(self) -> list[float]:
        times = self.chunk_times
        return [b - a for a, b in itertools.pairwise(times)]

    def classify(self, expected_chunks: int, error: str | None) -> str:
        """``ok``, or why not: ``status_<n>``, ``short_<n>``, ``no_end``, or ``error``."""
        if error is not None:
            return error
        if self.status is None:
            return "no_status"
        if self.status != 200:
            return f"status_{self.status}"
        if not self.ended:
            return "no_end"
        if len(self.chunk_times) != expected_chunks:
            return f"chunks_{len(self.chunk_times)}"
        return "ok"


def summarize(records: Sequence[StreamRecord]) -> dict[str, Any]:
    """Outcome counts, TTFT and gap distributions (ms) over the streams that completed."""
    outcomes: dict[str, int] = {}
    for record in records:
        outcomes[record.outcome] = outcomes.get(record.outcome, 0) + 1
    done = [r for r in records if r.outcome == "ok"]
    ttfts = [t for r in done if (t := r.ttft()) is not None]
    gaps = [g for r in done for g in r.gaps()]
    durations = [r.finished - r.started for r in done if r.finished is not None]
    return {
        "streams": len(records),
        "ok": len(done),
        "errors": len(records) - len(done),
        "outcomes": outcomes,
        "chunks": sum(len(r.chunk_times) for r in records),
        "ttft_ms": distribution(ttfts, 1000.0),
        "gap_ms": distribution(gaps, 1000.0),
        "duration_ms": distribution(durations, 1000.0),
    }


def peak_flowing(timeline: Sequence[Sequence[float]]) -> tuple[int, int]:
    """(most streams open, most streams flowing) over ``[t, open, flowing]`` samples."""
    if not timeline:
        return 0, 0
    return int(max(s[1] for s in timeline)), int(max(s[2] for s in timeline))


def rss_at_peak(
    rss: Sequence[Sequence[float]], timeline: Sequence[Sequence[float]], share: float = 0.95
) -> tuple[float | None, int]:
    """The highest RSS (KiB) sampled while at least ``share`` of the peak of open streams were
    open, and that peak; ``[t, kib]`` and ``[t, open, flowing]`` share one monotonic clock."""
    peak, _ = peak_flowing(timeline)
    if not peak or not rss:
        return None, peak
    windows = [s[0] for s in timeline if s[1] >= share * peak]
    start, end = min(windows), max(windows)
    inside = [s[1] for s in rss if start - 0.05 <= s[0] <= end + 0.05]
    return (max(inside) if inside else max(s[1] for s in rss)), peak
