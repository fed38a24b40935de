"""Benchmark: thousands of long-lived streams through one gateway worker, against the floor.

    .venv/bin/python load/streams.py                    # 1,000 streams, about 1 minute
    .venv/bin/python load/streams.py --streams 4000     # 4,000 streams
    .venv/bin/python load/streams.py --streams 1000 4000 --rounds 2 --profile
    .venv/bin/python load/streams.py --targets floor gateway --builds main --pool-size 4096

Processes (``load/bench_lib/processes.py``, as ``load/bench.py`` deploys them: all on
loopback; with 2+ CPUs the floor and the gateway pinned to the last CPU, the emulator and the
load client to the others):

- emulator: every model streams the benchmark's reply as 40 text deltas with 100 ms between
  every two frames (``PUT /_emulator/behaviour/*`` ``chunks: 40``, ``PUT /_emulator/faults/*``
  ``slow`` with ``chunk_delay_ms: 100``): about 4.3 s a stream, the first token after 100 ms.
- floor: ``load/floor_proxy.py``, the bare pass-through proxy, with as many upstream
  connections as the gateway's bound (``--pool-size``), so it does not queue either.
- gateway: ``python -m gateway serve --workers 1``, the shipped policy, a client key, JSON
  access log, SigV4 to the emulator; ``GATEWAY_UPSTREAM_POOL_SIZE`` its default unless
  ``--pool-size`` says otherwise (``--pool-size 256`` shows the old silent queue).
- load client: ``load/bench_lib/stream_client.py`` in its own process (raw asyncio sockets on
  uvloop, one connection per stream), starting the N streams evenly over ``--ramp-s``.

Targets, in turn: ``direct`` (the emulator's ConverseStream itself, bearer auth: what the
machine and the client can do at all), ``floor``, ``gateway``, then ``gateway@REV`` for each
``--builds REV`` (a ``git archive`` of that revision served beside the others, as
``load/ab.py`` does: a before/after in the same conditions). Each after a warm-up of
``--warmup`` streams.

Per stream: TTFT (connect to the first text chunk), the gaps between text chunks, the outcome
(complete = 200, all 40 chunks, the end mark). Per run: the measured process's CPU time
(utime+stime, ``/proc/<pid>/stat``) over the run ÷ streams (and ÷ chunks); its RSS sampled every
20 ms: RSS at peak concurrency (the highest sample while ≥ 95% of the peak of open streams were
open) − RSS before the run, ÷ that peak = KB per open stream; the peak of streams open and of
streams flowing (a first chunk arrived, not finished) at once, sampled every 50 ms by the
client; the client's own event-loop lag (a 10 ms ticker) and CPU, to show it kept up.

Goals (the issue's, per gateway run, against the floor of the same round): every stream
complete; every stream flowing at once; TTFT p99 within 1 s of the floor's; gap p99 within 20 ms
of the floor's; CPU per stream at most 1.3x the floor's; at most 32 KB RSS per open stream; and
CPU per chunk against the 25 us that 4,000 streams on one core would need.

The open-file limit is raised to the hard limit (inherited by every child). Output: the tables
and verdicts on stdout, JSON in ``load/results/streams-<ts>.json`` (git-ignored) and
``--json PATH``; ``uptime`` before and after. Exit code 1 when any stream did not complete.
"""

from __future__ import annotations

import sys

from bench_lib.stream_cli import main as cli_main


def main(argv: list[str] | None = None) -> int:
    return cli_main(argv, description=(__doc__ or "").splitlines()[0])


if __name__ == "__main__":
    sys.exit(main())
