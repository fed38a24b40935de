"""Runs: the request of each target, the preflight, one wrk run measured as a row, rounds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tqdm import tqdm

from bench_lib import procstat
from bench_lib.bodies import (
    Request,
    direct_request,
    http,
    prompt_of,
    proxy_request,
    responses_request,
)
from bench_lib.config import PROMPT, TARGETS, Durations
from bench_lib.processes import Processes
from bench_lib.progress import say
from bench_lib.report import fmt
from bench_lib.rows import Row, merge_rows, row_name
from bench_lib.wrk import UNIQUE_MARK, lua_script, run_wrk

Plan = list[tuple[str, bool, int, int | None]]
"""(target, stream, connections, prompt size or None) of each row of a phase."""


class Runner:
    """wrk runs against the processes; the recorded rows and the gateway's request count."""

    def __init__(self, procs: Processes, workdir: Path, durations: Durations) -> None:
        self.procs = procs
        self.workdir = workdir
        self.durations = durations
        self.rows: list[Row] = []
        self.gateway_requests = 0
        self.script_index = 0
        self.bar: tqdm[Any] = tqdm(disable=True)  # bench_progress() on a terminal

    def request_for(
        self, target: str, stream: bool, prompt: str, temperature: float | None = None
    ) -> Request:
        """URL, body, headers and end mark of one request to ``target``."""
        if target in ("direct", "direct-bearer"):
            emulator_url = self.procs["emulator"].url
            return direct_request(emulator_url, target == "direct", stream, prompt)
        if target == "responses":  # the gateway's Responses API
            return responses_request(self.procs["gateway"].url, stream, prompt, temperature)
        url = self.procs[target].url
        return proxy_request(url, target == "gateway", stream, prompt, temperature)

    def preflight(self) -> None:
        """One request of every kind, checked before anything is measured."""
        for target in (*TARGETS, "responses"):
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
        """One wrk run; CPU of the measured process (the emulator for direct) and the emulator."""
        temperature = 0.0 if cache in ("hit", "miss") else None
        prompt = prompt_of(prompt_bytes, unique=cache == "miss")
        if cache == "miss":  # unique across runs too: a stream may replay a stored plain answer
            prompt = prompt.replace(UNIQUE_MARK, f"{UNIQUE_MARK}-r{self.script_index}", 1)
        url, script = self._script(target, stream, prompt, temperature, unique=cache == "miss")
        measured = self.procs[_process_of(target)]
        emulator = self.procs["emulator"]
        cpu0, emu0 = procstat.cpu_seconds(measured.pid), procstat.cpu_seconds(emulator.pid)
        self.bar.set_postfix_str(row_name(target, stream, connections, prompt_bytes, cache))
        result, _ = run_wrk(
            url,
            script,
            connections=connections,
            duration_s=duration_s,
            cpus=self.procs.pinning.load_cpus,
        )
        cpu1, emu1 = procstat.cpu_seconds(measured.pid), procstat.cpu_seconds(emulator.pid)
        self.bar.update(1)
        if target in ("gateway", "responses"):
            self.gateway_requests += result.requests
        n = result.requests
        row = Row(
            name=row_name(target, stream, connections, prompt_bytes, cache),
            target=target,
            stream=stream,
            connections=connections,
            result=result,
            cpu_ms_per_req=(cpu1 - cpu0) * 1000 / n if n else None,
            emulator_cpu_ms_per_req=(emu1 - emu0) * 1000 / n if n else None,
            prompt_bytes=len(prompt.encode()),
            cache=cache,
            cpu_s=cpu1 - cpu0,
            emulator_cpu_s=emu1 - emu0,
            load_average=procstat.load_average()[0],
            hwm_mb=procstat.memory(measured.pid).hwm_kb / 1024,
        )
        if record:
            self.rows.append(row)
            print_progress(row)
        return row

    def run_rounds(self, plan: Plan, rounds: int, duration_s: int) -> None:
        """Every (target, stream, connections, prompt size) of ``plan`` in turn, ``rounds``
        times over (so slow phases of a noisy machine hit every row alike), merged per row."""
        runs: dict[str, list[Row]] = {}
        for _ in range(rounds):
            for target, stream, connections, size in plan:
                row = self.run(
                    target, stream, connections, duration_s, prompt_bytes=size, record=False
                )
                print_progress(row)
                runs.setdefault(row.name, []).append(row)
        self.rows.extend(merge_rows(group) for group in runs.values())

    def warm_up(self) -> None:
        for target in TARGETS:
            for stream in (False, True):
                self.run(target, stream, 16, self.durations.warmup_s, record=False)


def _process_of(target: str) -> str:
    """The process a target's CPU is read from."""
    if target.startswith("direct"):
        return "emulator"
    return "gateway" if target == "responses" else target


def print_progress(row: Row) -> None:
    r = row.result
    say(
        f"  {row.name:<34} {r.rps:8.0f} req/s  p50 {fmt(r.p('p50'))} ms  "
        f"p99 {fmt(r.p('p99'))} ms  cpu {fmt(row.cpu_ms_per_req)} ms/req  "
        f"errors {r.errors}  load {row.load_average:.1f}  peak {row.hwm_mb:.1f} MB"
    )
