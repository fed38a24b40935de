"""Benchmark: the gateway against the Bedrock emulator and a floor proxy, under wrk, in one run.

    .venv/bin/python load/bench.py            # full run, about 5 minutes on 2 cores
    .venv/bin/python load/bench.py --quick    # about 2 minutes
    .venv/bin/python load/bench.py --profile  # also py-spy profiles of the gateway (c=16)

Processes (all on loopback, each its own process, started and stopped here):

- emulator: ``gateway.emulator`` (``load/bench_lib/emulator_main.py``: the stock emulator app
  plus one accepted bearer token). Its answer is fixed for every model (``PUT
  /_emulator/behaviour/*`` with a ~70-character reply, so answers do not grow with the prompt),
  no latency, 8 stream deltas. It verifies SigV4 on the gateway's calls as AWS does.
- floor: ``load/floor_proxy.py``, the least a Python proxy does: aiohttp server, orjson parse
  of the OpenAI body, a Converse body built, one call on a pooled aiohttp ClientSession,
  orjson parse of the answer, an OpenAI answer built; streams split the event-stream frames and
  relay each delta as one SSE event plus ``[DONE]``. It calls the *same emulator* with
  ``Authorization: Bearer`` (Bedrock API-key style, no signing) — so floor and gateway see the
  same upstream, answers and event-stream bytes; only signing, routing, auth, metrics, logs,
  validation and retries are missing from the floor, which is what the floor is for.
- gateway: ``python -m gateway serve --workers 1`` as deployed: ``GATEWAY_POLICIES=policies/``
  (the shipped default policy), a client key (auth on), ``GATEWAY_LOG_FORMAT=json`` with stderr
  to a log file (the access log on, INFO), ``/metrics`` on, in-memory cache; AWS_* pointing at
  the emulator with its test credentials (SigV4 signing on every call).

Requests: ``model: "claude-3-haiku"`` (a one-model route of the default policy, Converse on
``anthropic.claude-3-haiku-20240307-v1:0``, which the emulator answers at once), one user
message, ``max_tokens: 256``, no temperature, so the policy's ``cache: when: deterministic``
bypasses the cache (the main rows are cache-off). The cache rows send ``temperature: 0``: a
fixed prompt (hits after the first) and a per-request unique prompt (misses, stored).

Rows ("direct" is the emulator itself, measured with the exact request the gateway sends,
pre-signed with SigV4 right before each wrk run; "direct-bearer" is the floor's upstream request):
c=1 and c=16, plain and streamed, for direct, floor and gateway; a sweep c=32..256 for floor
and gateway; prompt sizes 1 KB..200 KB at c=1; cache bypass/miss/hit at c=16.

Figures: wrk's latency percentiles (its own Lua ``done()`` hook prints exact numbers); "added
p50" = proxy p50 − the direct p50 of the proxy's own upstream request (gateway − direct,
floor − direct-bearer), at c=1; CPU ms per request = the measured process's utime+stime from
``/proc/<pid>/stat`` (every thread) over the wrk run ÷ requests wrk completed; peak RSS =
``VmHWM`` after at least 20,000 gateway requests. Ratios are against the floor's same row, so
they hold on a noisy machine. With 2+ CPUs the proxies are pinned to the last CPU and the
emulator and wrk to the others (``--no-pin`` to disable), so the measured process has a core.

Errors: wrk's non-2xx and socket errors plus 2xx answers missing their end mark (``"choices"``,
``[DONE]``, ``messageStop``). Exit code 0 when budgets are over (a report), 1 on any error,
2 when wrk is missing. Output: the tables on stdout, JSON in ``load/results/bench-<ts>.json``
(git-ignored; or ``--json PATH`` too). On a terminal a counter of wrk runs shows on stderr
(not with ``--json``).
"""

from __future__ import annotations

import sys

from bench_lib.cli import main as cli_main

# The pieces, each in load/bench_lib/: config (what is sent, durations), bodies (requests,
# SigV4), processes (spawn, pin, ready, stop), rows (a row, merging, relations), runs (one wrk
# run as a row), plan (the phases), budgets, profile_runs (py-spy, cProfile), report (tables),
# cli (arguments, JSON); wrk, procstat and profiling drive and read wrk, /proc and py-spy.


def main(argv: list[str] | None = None) -> int:
    return cli_main(argv, description=(__doc__ or "").splitlines()[0])


if __name__ == "__main__":
    sys.exit(main())
