"""Unit tests: load/bench.py's progress counter shows on a terminal only, never under --json."""

from __future__ import annotations

import io
import os
import pty

import pytest
from bench_lib.progress import bench_progress


@pytest.mark.parametrize(
    ("tty", "json_requested", "shown"),
    [(True, False, True), (True, True, False), (False, False, False), (False, True, False)],
)
def test_progress_is_shown_on_a_terminal_without_json(
    tty: bool, json_requested: bool, shown: bool
) -> None:
    if tty:
        leader, follower = pty.openpty()
        stream = os.fdopen(follower, "w")
    else:
        stream = io.StringIO()
    try:
        bar = bench_progress(stream, json_requested=json_requested)
        assert bar.disable is (not shown)
        bar.set_postfix_str("gateway, plain, c=16")
        bar.update(2)
        bar.refresh()  # update() redraws only past tqdm's minimum interval: not on a fast machine
        bar.close()
        stream.flush()
        written = os.read(leader, 65536).decode() if tty and shown else ""
        if not tty:
            written = stream.getvalue()  # type: ignore[attr-defined]
        if shown:
            assert "wrk runs: 2run" in written and "gateway, plain, c=16" in written, written
        else:
            assert written == ""
    finally:
        stream.close()
        if tty:
            os.close(leader)
