"""Load: a burst of N concurrent connections at once, each served or refused cleanly.

    .venv/bin/python load/burst.py [--connections 500] [--pool 32] [--delay-ms 200]

Starts the Bedrock emulator (slowed by ``--delay-ms`` per call) and ``gateway serve`` as a child
process with ``GATEWAY_UPSTREAM_POOL_SIZE=--pool``, opens ``--connections`` client connections
with one chat request each (a fifth of them streamed) at the same moment, and classifies every
outcome: served (200, a valid body or a stream ending in ``[DONE]``), refused cleanly (a 429/503
OpenAI error or a refused connection), or unclean (anything else). Meanwhile it samples the
gateway's open connections to Bedrock from the kernel's socket table; they must never exceed the
pool. Afterwards the gateway must still answer, and stop with exit 0. Exit status 1 on any
unclean outcome, an unbounded pool or an unhealthy gateway.

Also the shared stack of ``load/soak.py`` (emulator, policy, gateway process, RSS sampling).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import httpx2 as httpx  # noqa: E402
import orjson  # noqa: E402

from gateway.emulator.credentials import (  # noqa: E402
    EMULATOR_ACCESS_KEY_ID,
    EMULATOR_REGION,
    EMULATOR_SECRET_ACCESS_KEY,
)
from gateway.emulator.runner import RunningEmulator, start_emulator_in_thread  # noqa: E402
from tests.support.process import GatewayProcess  # noqa: E402

KEY = "sk-load-client-key"
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
MISTRAL = "mistral.mistral-7b-instruct-v0:2"
MIXTRAL = "mistral.mixtral-8x7b-instruct-v0:1"
CHAT_MODELS = (HAIKU, MISTRAL, MIXTRAL, "meta.llama3-8b-instruct-v1:0")
POLICY = """\
version: 1
models:
  claude-3-haiku:
    bedrock_id: anthropic.claude-3-haiku-20240307-v1:0
    price: {input_per_mtok: 0.25, output_per_mtok: 1.25}
    safety_tier: 3
    context_window: 200000
    features: [tools, vision, streaming]
  llama3-8b:
    bedrock_id: meta.llama3-8b-instruct-v1:0
    price: {input_per_mtok: 0.3, output_per_mtok: 0.6}
    context_window: 8000
    features: [streaming]
  mistral-7b:
    bedrock_id: mistral.mistral-7b-instruct-v0:2
    price: {input_per_mtok: 0.15, output_per_mtok: 0.2}
    context_window: 32000
    features: [streaming]
  mixtral:
    bedrock_id: mistral.mixtral-8x7b-instruct-v0:1
    price: {input_per_mtok: 0.45, output_per_mtok: 0.7}
    context_window: 32000
    features: [streaming]
  titan-embed-v2:
    bedrock_id: amazon.titan-embed-text-v2:0
    kind: embedding
    price: {input_per_mtok: 0.02}
routes:
  haiku: {strategy: ordered, candidates: [claude-3-haiku]}
  chain: {strategy: ordered, candidates: [mistral-7b, llama3-8b, claude-3-haiku]}
  tools: {strategy: ordered, candidates: [claude-3-haiku]}
  embed: {strategy: ordered, candidates: [titan-embed-v2]}
  broken: {strategy: ordered, candidates: [mixtral]}
defaults:
  route: haiku
  retry: {max_attempts: 3}
  timeout_s: 30
  cache: {ttl_s: 3600, when: deterministic}
"""


# --- The stack: emulator, policy, gateway process ------------------------------------------


def emulator_env(emulator: RunningEmulator) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": emulator.url,
        "AWS_ACCESS_KEY_ID": EMULATOR_ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": EMULATOR_SECRET_ACCESS_KEY,
        "AWS_REGION": EMULATOR_REGION,
    }


@contextlib.contextmanager
def gateway_stack(
    *,
    pool: int = 256,
    emulator: RunningEmulator | None = None,
    extra_env: dict[str, str] | None = None,
) -> Iterator[tuple[RunningEmulator, GatewayProcess]]:
    """The emulator (given, or started here) and ``gateway serve`` pointed at it."""
    own = emulator is None
    emu = emulator or start_emulator_in_thread("127.0.0.1", 0)
    folder = Path(tempfile.mkdtemp(prefix="gw-load-"))
    (folder / "load.yaml").write_text(POLICY)
    env = (
        emulator_env(emu)
        | {
            "GATEWAY_API_KEYS": KEY,
            "GATEWAY_POLICIES": str(folder / "load.yaml"),
            "GATEWAY_UPSTREAM_POOL_SIZE": str(pool),
            "GATEWAY_LOG_LEVEL": "WARNING",
        }
        | (extra_env or {})
    )
    process = GatewayProcess(env, log_path=folder / "gateway.log").wait_ready(timeout=30)
    try:
        yield emu, process
    finally:
        process.stop()
        if own:
            emu.stop()


def rss_mb(pid: int) -> float:
    """Resident memory of a process, from /proc (MiB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _socket_inodes(pid: int) -> set[str]:
    inodes: set[str] = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    return inodes


def upstream_connections(port: int, pid: int) -> int:
    """Established TCP connections of process ``pid`` to ``port`` (its Bedrock pool), from
    the kernel's socket table: other processes' connections to the same port do not count."""
    owned = _socket_inodes(pid)
    count = 0
    wanted = f":{port:04X}"
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as handle:
            next(handle)
            for line in handle:
                parts = line.split()
                if parts[2].endswith(wanted) and parts[3] == "01" and parts[9] in owned:
                    count += 1
    return count


class Sampler:
    """Calls ``probe`` every ``interval_s`` in a thread and keeps the maximum."""

    def __init__(self, probe: Callable[[], int], interval_s: float = 0.01) -> None:
        self.probe = probe
        self.interval_s = interval_s
        self.maximum = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.maximum = max(self.maximum, self.probe())
            self.samples += 1
            self._stop.wait(self.interval_s)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


# --- The burst ------------------------------------------------------------------------------


@dataclass
class BurstResult:
    connections: int
    pool: int
    outcomes: Counter[str] = field(default_factory=Counter)
    unclean: list[str] = field(default_factory=list)
    max_upstream: int = 0
    upstream_samples: int = 0
    seconds: float = 0.0
    healthy_after: bool = False
    rss_before_mb: float = 0.0
    rss_after_mb: float = 0.0

    @property
    def ok(self) -> bool:
        return (
            not self.unclean
            and sum(self.outcomes.values()) == self.connections
            and 0 < self.max_upstream <= self.pool
            and self.healthy_after
        )

    def summary(self) -> dict[str, Any]:
        data = asdict(self)
        data["outcomes"] = dict(self.outcomes)
        data["unclean"] = self.unclean[:20]
        data["ok"] = self.ok
        return data


def _is_openai_error(body: bytes) -> bool:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    error = data.get("error") if isinstance(data, dict) else None
    return isinstance(error, dict) and set(error) == {"message", "type", "param", "code"}


async def _one(http: httpx.AsyncClient, url: str, index: int, start: asyncio.Event) -> str:
    stream = index % 5 == 0
    body = {
        "model": "haiku",
        "messages": [{"role": "user", "content": f"burst request {index}"}],
        "stream": stream,
    }
    await start.wait()
    try:
        response = await http.post(f"{url}/v1/chat/completions", json=body)
    except httpx.ConnectError:
        return "refused: connect"
    except httpx.HTTPError as exc:
        return f"unclean: {type(exc).__name__}"
    if response.status_code == 200:
        if stream:
            text = response.content
            good = text.rstrip().endswith(b"data: [DONE]") and b'"error"' not in text
        else:
            good = orjson.loads(response.content).get("object") == "chat.completion"
        return "served" if good else f"unclean: bad 200 body {response.content[-120:]!r}"
    if response.status_code in (429, 503) and _is_openai_error(response.content):
        return f"refused: {response.status_code}"
    return f"unclean: {response.status_code} {response.content[:120]!r}"


async def burst(
    url: str, connections: int, *, timeout_s: float = 120.0
) -> tuple[Counter[str], list[str], float]:
    """``connections`` requests, each on its own connection, released at the same moment."""
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    start = asyncio.Event()
    async with httpx.AsyncClient(
        limits=limits, timeout=timeout_s, headers={"Authorization": f"Bearer {KEY}"}
    ) as http:
        tasks = [asyncio.create_task(_one(http, url, i, start)) for i in range(connections)]
        await asyncio.sleep(0.05)
        began = time.monotonic()
        start.set()
        results = await asyncio.gather(*tasks)
        elapsed = time.monotonic() - began
    outcomes: Counter[str] = Counter()
    unclean: list[str] = []
    for result in results:
        if result.startswith("unclean"):
            unclean.append(result)
            outcomes["unclean"] += 1
        else:
            outcomes[result] += 1
    return outcomes, unclean, elapsed


def healthy(url: str) -> bool:
    try:
        ready = httpx.get(f"{url}/readyz", timeout=10)
        chat = httpx.post(
            f"{url}/v1/chat/completions",
            json={"model": "haiku", "messages": [{"role": "user", "content": "still there?"}]},
            headers={"Authorization": f"Bearer {KEY}"},
            timeout=30,
        )
    except httpx.HTTPError:
        return False
    return ready.status_code == 200 and chat.status_code == 200


def run_burst(
    *,
    connections: int = 500,
    pool: int = 32,
    delay_ms: int = 200,
    emulator: RunningEmulator | None = None,
) -> BurstResult:
    """The whole burst against a fresh gateway process (and the given or a new emulator)."""
    result = BurstResult(connections=connections, pool=pool)
    with gateway_stack(pool=pool, emulator=emulator) as (emu, process):
        for model in CHAT_MODELS:
            emu.state.set_fault(model, "slow", delay_ms=delay_ms)
        upstream_port = int(emu.url.rsplit(":", 1)[1])
        result.rss_before_mb = rss_mb(process.proc.pid)
        pid = process.proc.pid
        try:
            with Sampler(lambda: upstream_connections(upstream_port, pid), 0.02) as sampler:
                outcomes, unclean, elapsed = asyncio.run(burst(process.url, connections))
        finally:
            for model in CHAT_MODELS:
                emu.state.clear_faults(model)
        result.outcomes, result.unclean, result.seconds = outcomes, unclean, round(elapsed, 2)
        result.max_upstream, result.upstream_samples = sampler.maximum, sampler.samples
        result.healthy_after = process.proc.poll() is None and healthy(process.url)
        result.rss_after_mb = round(rss_mb(process.proc.pid), 1)
        result.rss_before_mb = round(result.rss_before_mb, 1)
    exit_code = process.proc.returncode
    if exit_code != 0:
        result.unclean.append(f"gateway exited {exit_code} after the burst")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=500)
    parser.add_argument("--pool", type=int, default=32, help="GATEWAY_UPSTREAM_POOL_SIZE")
    parser.add_argument("--delay-ms", type=int, default=200, help="emulator delay per call")
    args = parser.parse_args(argv)
    result = run_burst(connections=args.connections, pool=args.pool, delay_ms=args.delay_ms)
    print(json.dumps(result.summary(), indent=2))
    print(
        f"burst: {args.connections} connections in {result.seconds:.2f}s -> "
        f"{dict(result.outcomes)}; Bedrock connections max {result.max_upstream} "
        f"over {result.upstream_samples} samples "
        f"(pool {args.pool}); healthy after: {result.healthy_after}; "
        f"RSS {result.rss_before_mb} -> {result.rss_after_mb} MiB; "
        f"{'OK' if result.ok else 'FAILED'}"
    )
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
