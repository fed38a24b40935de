"""Instructions per request of gateway builds under callgrind: an A/B that machine load cannot move.

    .venv/bin/python load/instructions.py main HEAD            # plain, streamed, Responses
    .venv/bin/python load/instructions.py HEAD --kinds plain --requests 400
    .venv/bin/python load/instructions.py HEAD --floor         # the floor proxy, same requests

On a shared machine the CPU time of a request moves by tens of percent between runs of the
same build; valgrind's callgrind counts the instructions the gateway process executes (and,
with its cache simulation, the L1 and last-level misses), which repeat to within a fraction of
a percent for the same build and requests whatever else runs. Each revision (``git archive``)
runs as ``gateway serve`` under callgrind beside one plain emulator, with instrumentation off
until a warm-up is done; then ``--requests`` requests at ``--concurrency`` are counted. The
figure is per request: instructions, and "est. cycles" = Ir + 10 x L1 misses + 100 x LL
misses (callgrind's usual estimate). Only user-space work is counted (not the kernel's socket
work), and a count is not a time: a cold-cache path costs more per instruction. Use it to
compare builds; ``bench.py`` stays the measure of time. Needs Debian's ``valgrind``.
"""

from __future__ import annotations

import argparse
import glob
import http.client as httpclient
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import orjson
from bench_lib.bodies import http
from bench_lib.builds import export
from bench_lib.config import CLIENT_KEY, FLOOR_TOKEN, LOAD, MAX_TOKENS, MODEL, PROMPT, REPLY
from bench_lib.processes import compile_optimized, free_port, gateway_env, local_url

_CHAT = {
    "model": MODEL,
    "messages": [{"role": "user", "content": PROMPT}],
    "max_tokens": MAX_TOKENS,
}
_RESPONSES = {"model": MODEL, "input": PROMPT, "max_output_tokens": MAX_TOKENS}
KINDS: dict[str, tuple[str, dict[str, object]]] = {
    "plain": ("/v1/chat/completions", _CHAT),
    "stream": ("/v1/chat/completions", {**_CHAT, "stream": True}),
    "responses": ("/v1/responses", _RESPONSES),
    "responses-stream": ("/v1/responses", {**_RESPONSES, "stream": True}),
}
WARMUP = 40


def wait_ready(url: str, path: str, timeout_s: float = 600.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if http("GET", url + path, None, {})[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} not ready in {timeout_s:g}s")


def drive(port: int, kind: str, requests: int, concurrency: int) -> int:
    """``requests`` calls over ``concurrency`` keep-alive connections; returns how many."""
    path, body = KINDS[kind]
    raw = orjson.dumps(body)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {CLIENT_KEY}"}
    each = max(1, requests // concurrency)
    failures: list[str] = []

    def worker() -> None:
        conn = httpclient.HTTPConnection("127.0.0.1", port, timeout=300)
        try:
            for _ in range(each):
                conn.request("POST", path, raw, headers)
                response = conn.getresponse()
                data = response.read()
                if response.status != 200:
                    failures.append(f"{response.status} {data[:200]!r}")
        except OSError as exc:  # a failed request must fail the count, not go unseen
            failures.append(repr(exc))
        finally:
            conn.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(f"{len(failures)} failed requests, e.g. {failures[0]}")
    return each * concurrency


def counted(pid: int, folder: Path, label: str) -> dict[str, int]:
    """Dump callgrind's counters since the last zeroing; the events of the new dump file."""
    before = set(glob.glob(f"{folder}/callgrind.out.*"))
    subprocess.run(["callgrind_control", "-d", label, str(pid)], capture_output=True, check=True)
    for _ in range(100):
        new = sorted(set(glob.glob(f"{folder}/callgrind.out.*")) - before, key=os.path.getmtime)
        if new:
            break
        time.sleep(0.1)
    events: list[str] = []
    totals: list[int] = []
    with open(new[-1]) as dump:
        for line in dump:
            if line.startswith("events:"):
                events = line.split()[1:]
            elif line.startswith(("summary:", "totals:")):
                totals = [int(x) for x in line.split()[1:]]
    return dict(zip(events, totals, strict=False))


def measure_build(
    name: str, command: list[str], cwd: Path, env: dict[str, str], args: argparse.Namespace
) -> dict[str, dict[str, float]]:
    folder = Path(tempfile.mkdtemp(prefix="gateway-cg-"))
    port = free_port()
    valgrind = ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--cache-sim=yes"]
    valgrind.append(f"--callgrind-out-file={folder}/callgrind.out.%p")
    with open(folder / "gateway.log", "wb") as log:
        proc = subprocess.Popen(
            [*valgrind, *command, "--port", str(port)],
            cwd=cwd,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    figures: dict[str, dict[str, float]] = {}
    try:
        wait_ready(local_url(port), "/healthz" if args.floor else "/readyz")
        for kind in args.kinds:
            drive(port, kind, WARMUP, args.concurrency)
            subprocess.run(["callgrind_control", "-z", str(proc.pid)], capture_output=True)
            subprocess.run(["callgrind_control", "-i", "on", str(proc.pid)], capture_output=True)
            done = drive(port, kind, args.requests, args.concurrency)
            subprocess.run(["callgrind_control", "-i", "off", str(proc.pid)], capture_output=True)
            events = counted(proc.pid, folder, kind)
            l1 = sum(events.get(e, 0) for e in ("I1mr", "D1mr", "D1mw"))
            ll = sum(events.get(e, 0) for e in ("ILmr", "DLmr", "DLmw"))
            ir = events["Ir"]
            figures[kind] = {
                "instructions": ir / done,
                "est_cycles": (ir + 10 * l1 + 100 * ll) / done,
            }
            print(
                f"{name:<14} {kind:<17} {ir / done / 1000:9.1f} k instructions "
                f"{figures[kind]['est_cycles'] / 1000:9.1f} k est. cycles per request ({done})",
                flush=True,
            )
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(folder, ignore_errors=True)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("revs", nargs="+", help="git revisions")
    parser.add_argument("--kinds", nargs="+", choices=sorted(KINDS), default=list(KINDS))
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--floor", action="store_true", help="count the floor proxy instead")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("valgrind is missing: apt-get install -y valgrind", file=sys.stderr)
        return 2
    if args.floor:
        args.kinds = [k for k in args.kinds if not k.startswith("responses")]
    base_env = {
        k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GATEWAY_", "PROMETHEUS_"))
    }
    work = Path(tempfile.mkdtemp(prefix="gateway-instructions-"))
    emulator_port = free_port()
    emulator_cmd = [sys.executable, str(LOAD / "bench_lib" / "emulator_main.py")]
    emulator_cmd += ["--port", str(emulator_port), "--bearer-token", FLOOR_TOKEN]
    with open(work / "emulator.log", "wb") as log:
        emulator = subprocess.Popen(
            emulator_cmd, env=base_env, stdout=log, stderr=subprocess.STDOUT
        )
    results: dict[str, dict[str, dict[str, float]]] = {}
    try:
        emulator_url = local_url(emulator_port)
        wait_ready(emulator_url, "/_emulator/health", 60)
        behaviour = orjson.dumps({"reply": REPLY})
        http(
            "PUT",
            emulator_url + "/_emulator/behaviour/*",
            behaviour,
            {"Content-Type": "application/json"},
        )
        for index, rev in enumerate(args.revs):
            tree = export(rev, work / f"tree-{index}")
            env = {**gateway_env(base_env, emulator_url), "PYTHONPATH": str(tree)}
            compile_optimized(tree)
            if args.floor:
                command = [sys.executable, str(tree / "load" / "floor_proxy.py")]
                command += ["--upstream", emulator_url, "--bearer-token", FLOOR_TOKEN]
            else:
                command = [sys.executable, "-m", "gateway", "serve", "--host", "127.0.0.1"]
                command += ["--workers", "1"]
            results[f"{index}:{rev}"] = measure_build(f"{index}:{rev}", command, tree, env, args)
    finally:
        emulator.send_signal(signal.SIGTERM)
        emulator.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
    if args.json is not None:
        args.json.write_text(orjson.dumps(results, option=orjson.OPT_INDENT_2).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
