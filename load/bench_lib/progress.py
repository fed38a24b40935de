"""Progress: a tqdm counter of wrk runs on a terminal, the row lines printed above it.

Shown only when stderr is a terminal and no ``--json`` copy was asked for (a scripted run);
the rows and tables on stdout are the same either way.
"""

from __future__ import annotations

import shutil
from typing import Any, TextIO

from tqdm import tqdm


def bench_progress(stream: TextIO, *, json_requested: bool) -> tqdm[Any]:
    """A counter (the run count is not known ahead: phases depend on the machine)."""
    size = shutil.get_terminal_size((80, 24))  # a bare pty says 0 x 0: tqdm would draw nothing
    return tqdm(
        desc="wrk runs",
        unit="run",
        file=stream,
        disable=json_requested or not stream.isatty(),
        ncols=size.columns,
        nrows=size.lines,
    )


def say(line: str) -> None:
    """Print a line without breaking a bar that may be drawn below it."""
    tqdm.write(line)
