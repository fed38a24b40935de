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
(or ``--json PATH``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from bench_lib import procstat, profiling
from bench_lib.report import Budget, budgets_table, fmt, fmt_ratio, table
from bench_lib.wrk import INSTALL_HINT, UNIQUE_MARK, WrkResult, lua_script, run_wrk, wrk_path

REPO = Path(__file__).resolve().parent.parent
LOAD = REPO / "load"
RESULTS = LOAD / "results"
MODEL = "claude-3-haiku"
BEDROCK_ID = "anthropic.claude-3-haiku-20240307-v1:0"
REPLY = "Hello from the Bedrock emulator. This is the fixed answer of the benchmark."
PROMPT = "Say hello to the benchmark, please."
CLIENT_KEY = "sk-bench-0123456789abcdef"
FLOOR_TOKEN = "floor-bench-token"
MAX_TOKENS = 256
RSS_REQUESTS = 20_000
KB = 1024
PROMPT_SIZES = (1 * KB, 10 * KB, 50 * KB, 200 * KB)
MARKS = {("proxy", False): '"choices"', ("proxy", True): "[DONE]"}
DIRECT_MARKS = {False: '"output"', True: "messageStop"}

BUDGET_CPU_PLAIN_MS = 0.25
BUDGET_CPU_STREAM_MS = 0.5
BUDGET_P50_ADDED_MS = 0.45
BUDGET_RSS_MB = 80.0


@dataclass
class Durations:
    rounds: int
    main_s: int
    sweep_s: int
    size_s: int
    cache_s: int
    warmup_s: int
    profile_s: int

    @classmethod
    def of(cls, quick: bool) -> Durations:
        if quick:
            return cls(1, main_s=4, sweep_s=2, size_s=2, cache_s=3, warmup_s=2, profile_s=8)
        return cls(3, main_s=3, sweep_s=3, size_s=2, cache_s=4, warmup_s=2, profile_s=10)


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    url: str
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid


@dataclass
class Row:
    """One measured wrk run."""

    name: str
    target: str
    stream: bool
    connections: int
    result: WrkResult
    cpu_ms_per_req: float | None
    emulator_cpu_ms_per_req: float | None
    prompt_bytes: int
    cache: str = "off"
    cpu_s: float = 0.0
    emulator_cpu_s: float = 0.0
    rounds: int = 1
    load_average: float = 0.0
    added_p50_ms: float | None = None
    added_p99_ms: float | None = None
    floor_cpu_ratio: float | None = None
    floor_rps_ratio: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "target": self.target,
            "stream": self.stream,
            "connections": self.connections,
            "prompt_bytes": self.prompt_bytes,
            "cache": self.cache,
            "rounds": self.rounds,
            "load_average_1m": self.load_average,
            "rps": self.result.rps,
            "p50_ms": self.result.p("p50"),
            "p90_ms": self.result.p("p90"),
            "p99_ms": self.result.p("p99"),
            "added_p50_ms": self.added_p50_ms,
            "added_p99_ms": self.added_p99_ms,
            "cpu_ms_per_req": self.cpu_ms_per_req,
            "emulator_cpu_ms_per_req": self.emulator_cpu_ms_per_req,
            "floor_cpu_ratio": self.floor_cpu_ratio,
            "floor_rps_ratio": self.floor_rps_ratio,
            "wrk": self.result.to_json(),
            **self.extra,
        }


def merge_rows(runs: list[Row]) -> Row:
    """Rounds of one row as one: counts and CPU summed, req/s and percentiles the median."""
    if len(runs) == 1:
        return runs[0]
    first = runs[0]
    requests = sum(r.result.requests for r in runs)
    merged = WrkResult(
        requests=requests,
        duration_s=sum(r.result.duration_s for r in runs),
        bytes_read=sum(r.result.bytes_read for r in runs),
        rps=statistics.median(r.result.rps for r in runs),
        non_2xx=sum(r.result.non_2xx for r in runs),
        connect_errors=sum(r.result.connect_errors for r in runs),
        read_errors=sum(r.result.read_errors for r in runs),
        write_errors=sum(r.result.write_errors for r in runs),
        timeouts=sum(r.result.timeouts for r in runs),
        bad_bodies=sum(r.result.bad_bodies for r in runs),
        cache_hits=sum(r.result.cache_hits for r in runs),
        cache_misses=sum(r.result.cache_misses for r in runs),
        latency_us={
            key: statistics.median(r.result.latency_us[key] for r in runs)
            for key in first.result.latency_us
        },
    )
    cpu = sum(r.cpu_s for r in runs)
    emulator_cpu = sum(r.emulator_cpu_s for r in runs)
    return Row(
        name=first.name,
        target=first.target,
        stream=first.stream,
        connections=first.connections,
        result=merged,
        cpu_ms_per_req=cpu * 1000 / requests if requests else None,
        emulator_cpu_ms_per_req=emulator_cpu * 1000 / requests if requests else None,
        prompt_bytes=first.prompt_bytes,
        cache=first.cache,
        cpu_s=cpu,
        emulator_cpu_s=emulator_cpu,
        rounds=len(runs),
        load_average=max(r.load_average for r in runs),
        extra={
            "rounds_rps": [r.result.rps for r in runs],
            "rounds_p50_ms": [r.result.p("p50") for r in runs],
        },
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prompt_of(size: int | None, *, unique: bool = False) -> str:
    """The user message: the short prompt, or ``size`` bytes of words."""
    head = f"{UNIQUE_MARK} " if unique else ""
    if size is None:
        return head + PROMPT
    words = "the quick brown fox jumps over the lazy dog and keeps running "
    text = head + PROMPT + " " + words * (size // len(words) + 1)
    return text[:size]


def openai_body(stream: bool, prompt: str, temperature: float | None = None) -> bytes:
    body: dict[str, Any] = {
        "model": MODEL,
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": MAX_TOKENS,
    }
    if temperature is not None:
        body["temperature"] = temperature
    if stream:
        body["stream"] = True
    return orjson.dumps(body)


def converse_body(prompt: str) -> bytes:
    return orjson.dumps(
        {
            "messages": [{"role": "user", "content": [{"text": prompt}]}],
            "inferenceConfig": {"maxTokens": MAX_TOKENS},
        }
    )


def sigv4_headers(url: str, body: bytes) -> dict[str, str]:
    """Headers of a SigV4-signed Converse call (valid 15 minutes), as the gateway sends it."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    from gateway.emulator.credentials import (
        EMULATOR_ACCESS_KEY_ID,
        EMULATOR_REGION,
        EMULATOR_SECRET_ACCESS_KEY,
    )

    request = AWSRequest(
        method="POST", url=url, data=body, headers={"Content-Type": "application/json"}
    )
    credentials = Credentials(EMULATOR_ACCESS_KEY_ID, EMULATOR_SECRET_ACCESS_KEY)
    SigV4Auth(credentials, "bedrock", EMULATOR_REGION).add_auth(request)
    headers = {k: str(v) for k, v in request.headers.items()}
    headers["Host"] = url.split("/")[2]
    return headers


def http(method: str, url: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return int(answer.status), bytes(answer.read())
    except urllib.error.HTTPError as error:
        return int(error.code), bytes(error.read())


class Bench:
    """The three processes, the wrk runs against them and the collected rows."""

    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.durations = Durations.of(args.quick)
        self.workdir = workdir
        self.rows: list[Row] = []
        self.procs: dict[str, Proc] = {}
        self.gateway_requests = 0
        self.memory: dict[str, Any] = {}
        self.profile: dict[str, Any] = {}
        self.script_index = 0
        self.gateway_env: dict[str, str] = {}
        self.load_start = procstat.load_average()
        cpus = sorted(os.sched_getaffinity(0))
        self.pin = args.pin and len(cpus) >= 2
        self.proxy_cpus = {cpus[-1]} if self.pin else None
        self.load_cpus = set(cpus[:-1]) if self.pin else None

    # Processes ----------------------------------------------------------------------------
    def _spawn(
        self, name: str, command: list[str], env: dict[str, str], url: str, cpus: set[int] | None
    ) -> Proc:
        log = self.workdir / f"{name}.log"
        preexec: Callable[[], None] | None = None
        if cpus:
            pinned = set(cpus)

            def preexec() -> None:
                os.sched_setaffinity(0, pinned)

        with open(log, "wb") as handle:
            popen = subprocess.Popen(
                command,
                cwd=REPO,
                env=env,
                stdout=handle,
                stderr=subprocess.STDOUT,
                preexec_fn=preexec,
            )
        proc = Proc(name, popen, url, log)
        self.procs[name] = proc
        return proc

    def _wait_ready(self, proc: Proc, path: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.popen.poll() is not None:
                raise RuntimeError(f"{proc.name} exited early:\n{proc.log.read_text()[-3000:]}")
            with contextlib.suppress(OSError):
                if http("GET", proc.url + path, None, {})[0] == 200:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"{proc.name} not ready in {timeout}s:\n{proc.log.read_text()[-3000:]}")

    def start(self) -> None:
        from gateway.emulator.credentials import (
            EMULATOR_ACCESS_KEY_ID,
            EMULATOR_REGION,
            EMULATOR_SECRET_ACCESS_KEY,
        )

        base_env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AWS_", "GATEWAY_", "PROMETHEUS_"))
        }
        python = sys.executable
        port = free_port()
        emulator = self._spawn(
            "emulator",
            [
                python,
                str(LOAD / "bench_lib" / "emulator_main.py"),
                "--port",
                str(port),
                "--bearer-token",
                FLOOR_TOKEN,
            ],
            base_env,
            f"http://127.0.0.1:{port}",
            self.load_cpus,
        )
        self._wait_ready(emulator, "/_emulator/health")
        status, raw = http(
            "PUT",
            emulator.url + "/_emulator/behaviour/*",
            orjson.dumps({"reply": REPLY}),
            {"Content-Type": "application/json"},
        )
        if status != 200:
            raise RuntimeError(f"emulator behaviour: {status} {raw!r}")
        port = free_port()
        self._spawn(
            "floor",
            [
                python,
                str(LOAD / "floor_proxy.py"),
                "--port",
                str(port),
                "--upstream",
                emulator.url,
                "--bearer-token",
                FLOOR_TOKEN,
            ],
            base_env,
            f"http://127.0.0.1:{port}",
            self.proxy_cpus,
        )
        port = free_port()
        gateway_env = {
            **base_env,
            "GATEWAY_API_KEYS": CLIENT_KEY,
            "GATEWAY_POLICIES": str(REPO / "policies"),
            "GATEWAY_LOG_FORMAT": "json",
            "GATEWAY_LOG_LEVEL": "INFO",
            "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": emulator.url,
            "AWS_ACCESS_KEY_ID": EMULATOR_ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": EMULATOR_SECRET_ACCESS_KEY,
            "AWS_REGION": EMULATOR_REGION,
        }
        self.gateway_env = gateway_env
        self._spawn(
            "gateway",
            [
                python,
                "-m",
                "gateway",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
            ],
            gateway_env,
            f"http://127.0.0.1:{port}",
            self.proxy_cpus,
        )
        self._wait_ready(self.procs["floor"], "/healthz")
        self._wait_ready(self.procs["gateway"], "/readyz")

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.popen.poll() is None:
                proc.popen.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait()

    # Requests -----------------------------------------------------------------------------
    def request_for(
        self, target: str, stream: bool, prompt: str, temperature: float | None = None
    ) -> tuple[str, bytes, dict[str, str], str]:
        """URL, body, headers and end mark of one request to ``target``."""
        if target in ("direct", "direct-bearer"):
            operation = "converse-stream" if stream else "converse"
            url = f"{self.procs['emulator'].url}/model/{BEDROCK_ID.replace(':', '%3A')}/{operation}"
            body = converse_body(prompt)
            if target == "direct":
                headers = sigv4_headers(url, body)
            else:
                headers = {
                    "Content-Type": "application/json",
                    "Authorization": f"Bearer {FLOOR_TOKEN}",
                }
            return url, body, headers, DIRECT_MARKS[stream]
        url = self.procs[target].url + "/v1/chat/completions"
        headers = {"Content-Type": "application/json"}
        if target == "gateway":
            headers["Authorization"] = f"Bearer {CLIENT_KEY}"
        return url, openai_body(stream, prompt, temperature), headers, MARKS[("proxy", stream)]

    def preflight(self) -> None:
        """One request of every kind, checked before anything is measured."""
        for target in ("direct", "direct-bearer", "floor", "gateway"):
            for stream in (False, True):
                url, body, headers, mark = self.request_for(target, stream, PROMPT)
                status, raw = http("POST", url, body, headers)
                if status != 200 or mark.encode() not in raw:
                    raise RuntimeError(
                        f"preflight {target} stream={stream}: {status} {raw[:500]!r}"
                    )

    def _script(
        self, target: str, stream: bool, prompt: str, temperature: float | None, unique: bool
    ) -> tuple[str, Path]:
        url, body, headers, mark = self.request_for(target, stream, prompt, temperature)
        self.script_index += 1
        body_path = self.workdir / f"body-{self.script_index}.json"
        body_path.write_bytes(body)
        script_path = self.workdir / f"script-{self.script_index}.lua"
        script_path.write_text(lua_script(body_path, headers, mark, unique=unique))
        return url, script_path

    def run(
        self,
        target: str,
        stream: bool,
        connections: int,
        duration_s: int,
        *,
        prompt_bytes: int | None = None,
        cache: str = "off",
        record: bool = True,
    ) -> Row:
        temperature = 0.0 if cache in ("hit", "miss") else None
        prompt = prompt_of(prompt_bytes, unique=cache == "miss")
        if cache == "miss":  # unique across runs too: a stream may replay a stored plain answer
            prompt = prompt.replace(UNIQUE_MARK, f"{UNIQUE_MARK}-r{self.script_index}", 1)
        url, script = self._script(target, stream, prompt, temperature, unique=cache == "miss")
        measured = self.procs["emulator" if target.startswith("direct") else target]
        emulator = self.procs["emulator"]
        cpu0, emu0 = procstat.cpu_seconds(measured.pid), procstat.cpu_seconds(emulator.pid)
        result, _ = run_wrk(
            url, script, connections=connections, duration_s=duration_s, cpus=self.load_cpus
        )
        cpu1, emu1 = procstat.cpu_seconds(measured.pid), procstat.cpu_seconds(emulator.pid)
        if target == "gateway":
            self.gateway_requests += result.requests
        n = result.requests
        size = len(prompt.encode())
        mode = "stream" if stream else "plain"
        name = f"{target} {mode} c{connections}"
        if prompt_bytes is not None:
            name += f" {prompt_bytes // KB}KB"
        if cache != "off":
            name += f" cache-{cache}"
        row = Row(
            name=name,
            target=target,
            stream=stream,
            connections=connections,
            result=result,
            cpu_ms_per_req=(cpu1 - cpu0) * 1000 / n if n else None,
            emulator_cpu_ms_per_req=(emu1 - emu0) * 1000 / n if n else None,
            prompt_bytes=size,
            cache=cache,
            cpu_s=cpu1 - cpu0,
            emulator_cpu_s=emu1 - emu0,
            load_average=procstat.load_average()[0],
        )
        if record:
            self.rows.append(row)
            self._print_progress(row)
        return row

    def _print_progress(self, row: Row) -> None:
        r = row.result
        print(
            f"  {row.name:<34} {r.rps:8.0f} req/s  p50 {fmt(r.p('p50'))} ms  "
            f"p99 {fmt(r.p('p99'))} ms  cpu {fmt(row.cpu_ms_per_req)} ms/req  "
            f"errors {r.errors}  load {row.load_average:.1f}",
            flush=True,
        )

    def warm_up(self) -> None:
        for target in ("direct", "direct-bearer", "floor", "gateway"):
            for stream in (False, True):
                self.run(target, stream, 16, self.durations.warmup_s, record=False)

    # The plan -----------------------------------------------------------------------------
    def measure(self) -> None:
        d = self.durations
        print("warm-up ...", flush=True)
        self.warm_up()
        print(
            f"main rows (direct / floor / gateway interleaved, {d.rounds} round(s) of "
            f"{d.main_s} s; merged: CPU summed, percentiles and req/s the median):",
            flush=True,
        )
        plan: list[tuple[str, bool, int, int | None]] = []
        for connections in (1, 16):
            for stream in (False, True):
                for target in ("direct", "direct-bearer", "floor", "gateway"):
                    if target != "direct-bearer" or connections == 1:
                        plan.append((target, stream, connections, None))
        self.run_rounds(plan, d.rounds, d.main_s)
        print("sweep:", flush=True)
        for connections in self.args.sweep:
            for stream in (False, True):
                for target in ("floor", "gateway"):
                    self.run(target, stream, connections, d.sweep_s)
        while self.gateway_requests < RSS_REQUESTS:
            self.run("gateway", False, 16, d.main_s, record=False)
        self.memory = {
            "gateway_requests_before": self.gateway_requests,
            "gateway": self._memory("gateway"),
            "floor": self._memory("floor"),
            "emulator": self._memory("emulator"),
        }
        print(
            f"memory after {self.gateway_requests} gateway requests: "
            f"gateway peak {self.memory['gateway']['hwm_mb']:.1f} MB, "
            f"floor peak {self.memory['floor']['hwm_mb']:.1f} MB",
            flush=True,
        )
        size_rounds = min(d.rounds, 2)
        print(f"prompt sizes (c=1, plain, {size_rounds} round(s) of {d.size_s} s):", flush=True)
        plan = [
            (target, False, 1, size)
            for size in PROMPT_SIZES
            for target in ("direct", "direct-bearer", "floor", "gateway")
        ]
        self.run_rounds(plan, size_rounds, d.size_s)
        print("cache (gateway, c=16, plain; temperature 0):", flush=True)
        url, body, headers, _ = self.request_for("gateway", False, PROMPT, 0.0)
        http("POST", url, body, headers)  # the first one stores; the hit row only hits
        for stream in (False, True):
            if stream:
                url, body, headers, _ = self.request_for("gateway", True, PROMPT, 0.0)
                http("POST", url, body, headers)
            self.run("gateway", stream, 16, d.cache_s, cache="miss")
            self.run("gateway", stream, 16, d.cache_s, cache="hit")
        self.memory["gateway_end"] = self._memory("gateway")
        self.memory["floor_end"] = self._memory("floor")
        self.memory["gateway_requests_end"] = self.gateway_requests
        self._relate()

    def run_rounds(
        self, plan: list[tuple[str, bool, int, int | None]], rounds: int, duration_s: int
    ) -> None:
        """Every (target, stream, connections, prompt size) of ``plan`` in turn, ``rounds``
        times over (so slow phases of a noisy machine hit every row alike), merged per row."""
        runs: dict[str, list[Row]] = {}
        for _ in range(rounds):
            for target, stream, connections, size in plan:
                row = self.run(
                    target, stream, connections, duration_s, prompt_bytes=size, record=False
                )
                self._print_progress(row)
                runs.setdefault(row.name, []).append(row)
        self.rows.extend(merge_rows(group) for group in runs.values())

    def _memory(self, name: str) -> dict[str, float]:
        memory = procstat.memory(self.procs[name].pid)
        return {"rss_mb": memory.rss_kb / 1024, "hwm_mb": memory.hwm_kb / 1024}

    def find(self, target: str, stream: bool, connections: int, **match: Any) -> Row | None:
        for row in self.rows:
            if (row.target, row.stream, row.connections) != (target, stream, connections):
                continue
            size = match.get("prompt_bytes")
            if size is None and row.name.endswith("KB"):
                continue
            if size is not None and not row.name.endswith(f" {size // KB}KB"):
                continue
            if row.cache != match.get("cache", "off"):
                continue
            return row
        return None

    def _relate(self) -> None:
        """Added latency against the proxy's own upstream request, ratios against the floor."""
        for row in self.rows:
            size = None
            if row.name.endswith("KB"):
                size = int(row.name.rsplit(" ", 1)[1][:-2]) * KB
            if row.target in ("floor", "gateway") and row.connections == 1:
                upstream = "direct" if row.target == "gateway" else "direct-bearer"
                base = self.find(upstream, row.stream, 1, prompt_bytes=size)
                if base is not None:
                    for pct in ("p50", "p99"):
                        mine, theirs = row.result.p(pct), base.result.p(pct)
                        if mine is not None and theirs is not None:
                            setattr(row, f"added_{pct}_ms", mine - theirs)
            floor = self.find("floor", row.stream, row.connections, prompt_bytes=size)
            if floor is None or floor is row:
                continue
            if row.cpu_ms_per_req is not None and floor.cpu_ms_per_req:
                row.floor_cpu_ratio = row.cpu_ms_per_req / floor.cpu_ms_per_req
            if floor.result.rps:
                row.floor_rps_ratio = row.result.rps / floor.result.rps

    # Budgets ------------------------------------------------------------------------------
    def budgets(self) -> list[Budget]:
        budgets = []
        for stream, target, label in (
            (False, BUDGET_CPU_PLAIN_MS, "gateway CPU / plain request (c=16)"),
            (True, BUDGET_CPU_STREAM_MS, "gateway CPU / streamed request, 8 chunks (c=16)"),
        ):
            row = self.find("gateway", stream, 16)
            budgets.append(
                Budget(
                    label,
                    row.cpu_ms_per_req if row else None,
                    target,
                    "ms",
                    row.floor_cpu_ratio if row else None,
                )
            )
        gateway, floor = self.find("gateway", False, 1), self.find("floor", False, 1)
        note = ""
        if gateway is not None:
            note = f"absolute p50 {fmt(gateway.result.p('p50'))} ms"
        budgets.append(
            Budget(
                "added p50 latency, plain, c=1",
                gateway.added_p50_ms if gateway else None,
                BUDGET_P50_ADDED_MS,
                "ms",
                (
                    gateway.added_p50_ms / floor.added_p50_ms
                    if gateway and floor and gateway.added_p50_ms and floor.added_p50_ms
                    else None
                ),
                note,
            )
        )
        gw_mem, floor_mem = self.memory.get("gateway"), self.memory.get("floor")
        budgets.append(
            Budget(
                f"peak RSS after {self.memory.get('gateway_requests_before', 0)} requests",
                gw_mem["hwm_mb"] if gw_mem else None,
                BUDGET_RSS_MB,
                "MB",
                gw_mem["hwm_mb"] / floor_mem["hwm_mb"] if gw_mem and floor_mem else None,
                (
                    f"RSS now {gw_mem['rss_mb']:.1f} MB; at end "
                    f"({self.memory.get('gateway_requests_end')} req, 200 KB prompts "
                    f"and cache included): {self.memory['gateway_end']['hwm_mb']:.1f} MB"
                    if gw_mem and "gateway_end" in self.memory
                    else ""
                ),
            )
        )
        gateway_rows = [r for r in self.rows if r.target == "gateway"]
        errors = sum(r.result.errors for r in gateway_rows)
        top = max((r.connections for r in gateway_rows), default=0)
        floor_errors = sum(r.result.errors for r in self.rows if r.target == "floor")
        budgets.append(
            Budget(
                f"gateway errors, every row up to c={top}",
                float(errors),
                0.0,
                "",
                None,
                f"floor errors: {floor_errors}",
            )
        )
        for stream in (False, True):
            hit = self.find("gateway", stream, 16, cache="hit")
            miss = self.find("gateway", stream, 16, cache="miss")
            bypass = self.find("gateway", stream, 16)
            kind = "stream" if stream else "plain"
            ratio = (
                hit.cpu_ms_per_req / miss.cpu_ms_per_req
                if hit and miss and hit.cpu_ms_per_req and miss.cpu_ms_per_req
                else None
            )
            note = ""
            if hit and miss and bypass:
                note = (
                    f"miss {fmt(miss.cpu_ms_per_req)} ms, bypass {fmt(bypass.cpu_ms_per_req)} ms; "
                    f"hits seen {hit.result.cache_hits}/{hit.result.requests}"
                )
            budgets.append(
                Budget(
                    f"cache hit CPU / miss CPU, {kind} (c=16)",
                    ratio,
                    1.0,
                    "",
                    None,
                    note,
                )
            )
        return budgets

    # Profile ------------------------------------------------------------------------------
    def run_profile(self) -> None:
        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        gateway = self.procs["gateway"]
        for stream in (False, True):
            kind = "stream" if stream else "plain"
            out = self.workdir / f"profile-{kind}.txt"
            seconds = self.durations.profile_s
            command = [
                spy,
                "record",
                "--pid",
                str(gateway.pid),
                "--duration",
                str(seconds),
                "--rate",
                "250",
                "--format",
                "raw",
                "--function",
                "--nonblocking",
                "--output",
                str(out),
            ]
            try:
                spy_proc = subprocess.Popen(
                    command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
                )
            except OSError as error:
                self.profile[kind] = {"tool": "py-spy", "error": str(error)}
                continue
            time.sleep(0.5)
            self.run("gateway", stream, 16, seconds + 1, record=False)
            spy_output = spy_proc.communicate(timeout=60)[0].decode(errors="replace")
            if spy_proc.returncode != 0 or not out.exists():
                self.profile[kind] = {"tool": "py-spy", "error": spy_output.strip()[-2000:]}
                continue
            stacks = profiling.parse_collapsed(out.read_text())
            self.profile[kind] = {
                "tool": "py-spy " + _py_spy_version(spy),
                "samples": sum(count for _, count in stacks),
                "top_own": [vars(e) for e in profiling.top_own(stacks, 25)],
                "categories_own": [vars(e) for e in profiling.by_category(stacks, inclusive=False)],
                "categories_inclusive": [
                    vars(e) for e in profiling.by_category(stacks, inclusive=True)
                ],
            }
        if any("error" in v for v in self.profile.values()):
            self._cprofile_fallback()

    def _cprofile_fallback(self) -> None:
        """When py-spy cannot attach: a second gateway under cProfile, the same load."""
        import pstats

        port = free_port()
        stats_path = self.workdir / "gateway.pstats"
        proc = self._spawn(
            "gateway-cprofile",
            [
                sys.executable,
                str(LOAD / "bench_lib" / "cprofile_main.py"),
                str(stats_path),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
            ],
            self.gateway_env,
            f"http://127.0.0.1:{port}",
            self.proxy_cpus,
        )
        self._wait_ready(proc, "/readyz")
        real = self.procs["gateway"]
        self.procs["gateway"] = proc
        try:
            for stream in (False, True):
                self.run("gateway", stream, 16, self.durations.profile_s, record=False)
        finally:
            self.procs["gateway"] = real
        proc.popen.send_signal(signal.SIGTERM)
        proc.popen.wait(timeout=30)
        stats = pstats.Stats(str(stats_path))
        entries = sorted(
            stats.stats.items(),  # type: ignore[attr-defined]
            key=lambda item: item[1][2],
            reverse=True,
        )
        total = sum(v[2] for _, v in entries) or 1.0
        self.profile["cprofile (plain + stream)"] = {
            "tool": "cProfile (in-process; py-spy could not attach)",
            "top_own": [
                {
                    "name": f"{func[2]} ({func[0].split('site-packages/')[-1]}:{func[1]})",
                    "seconds": v[2],
                    "share": v[2] / total,
                }
                for func, v in entries[:25]
            ],
        }

    # Output -------------------------------------------------------------------------------
    def rows_table(self) -> str:
        headers = [
            "row",
            "req/s",
            "p50 ms",
            "p99 ms",
            "added p50",
            "added p99",
            "CPU ms/req",
            "CPU x floor",
            "req/s x floor",
            "emu CPU ms/req",
            "errors",
        ]
        lines = []
        for row in self.rows:
            r = row.result
            lines.append(
                [
                    row.name,
                    f"{r.rps:.0f}",
                    fmt(r.p("p50")),
                    fmt(r.p("p99")),
                    fmt(row.added_p50_ms),
                    fmt(row.added_p99_ms),
                    fmt(row.cpu_ms_per_req),
                    fmt_ratio(row.floor_cpu_ratio),
                    fmt_ratio(row.floor_rps_ratio),
                    fmt(row.emulator_cpu_ms_per_req),
                    str(r.errors),
                ]
            )
        return table(headers, lines)

    def profile_text(self) -> str:
        parts = []
        for kind, data in self.profile.items():
            parts.append(f"profile {kind}: {data.get('tool')}")
            if "error" in data:
                parts.append(f"  failed: {data['error']}")
                continue
            if "samples" in data:
                parts.append(f"  {data['samples']} samples")
            rows = [[e["name"], f"{e['share'] * 100:.1f}%"] for e in data.get("top_own", [])]
            parts.append(table(["top functions by own time", "share"], rows))
            for key, title in (
                ("categories_own", "own time by area"),
                ("categories_inclusive", "inclusive time by area"),
            ):
                if key in data:
                    rows = [[e["name"], f"{e['share'] * 100:.1f}%"] for e in data[key]]
                    parts.append(table([title, "share"], rows))
            parts.append("")
        return "\n".join(parts)

    def meta(self) -> dict[str, Any]:
        wrk_version = subprocess.run(
            [wrk_path() or "wrk", "-v"], capture_output=True, text=True, check=False
        ).stdout.splitlines()
        return {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "quick": self.args.quick,
            "durations_s": vars(self.durations),
            "cpus": os.cpu_count(),
            "pinning": {
                "proxies": sorted(self.proxy_cpus) if self.proxy_cpus else None,
                "emulator_and_wrk": sorted(self.load_cpus) if self.load_cpus else None,
            },
            "load_average_start": self.load_start,
            "load_average_end": procstat.load_average(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "wrk": wrk_version[0] if wrk_version else None,
            "model": MODEL,
            "bedrock_id": BEDROCK_ID,
            "git_rev": _git_rev(),
        }


def _py_spy_version(spy: str) -> str:
    done = subprocess.run([spy, "--version"], capture_output=True, text=True, check=False)
    return done.stdout.strip().removeprefix("py-spy ")


def _git_rev() -> str | None:
    with contextlib.suppress(OSError):
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        )
        return done.stdout.strip() or None
    return None


@contextlib.contextmanager
def workdir(keep: bool) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="gateway-bench-"))
    try:
        yield path
    finally:
        if keep:
            print(f"logs and scripts kept in {path}")
        else:
            shutil.rmtree(path, ignore_errors=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs (about 2 minutes)")
    parser.add_argument("--profile", action="store_true", help="py-spy the gateway at c=16")
    parser.add_argument("--json", type=Path, help="also write the JSON here")
    parser.add_argument(
        "--sweep", type=int, nargs="+", default=[32, 64, 128, 256], help="sweep concurrencies"
    )
    parser.add_argument("--no-pin", dest="pin", action="store_false", help="no CPU pinning")
    parser.add_argument("--keep-logs", action="store_true", help="keep the work folder")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if wrk_path() is None:
        print(INSTALL_HINT, file=sys.stderr)
        return 2
    started = time.monotonic()
    with workdir(args.keep_logs) as folder:
        bench = Bench(args, folder)
        try:
            bench.start()
            bench.preflight()
            bench.measure()
            if args.profile:
                print("profiling the gateway (c=16) ...", flush=True)
                bench.run_profile()
        finally:
            bench.stop()
        budgets = bench.budgets()
        document = {
            "meta": {**bench.meta(), "elapsed_s": round(time.monotonic() - started, 1)},
            "rows": [row.to_json() for row in bench.rows],
            "memory": bench.memory,
            "budgets": [b.to_json() for b in budgets],
            "profile": bench.profile,
        }
    print()
    print(bench.rows_table())
    print()
    print(budgets_table(budgets))
    if bench.profile:
        print()
        print(bench.profile_text())
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    for path in (out, args.json):
        if path is not None:
            path.write_text(json.dumps(document, indent=2) + "\n")
            print(f"JSON: {path}")
    print(f"elapsed {time.monotonic() - started:.0f} s")
    errors = sum(row.result.errors for row in bench.rows)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
