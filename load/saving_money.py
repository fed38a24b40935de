"""The README's "Saving money" example: one workload through four routes, its cost read from the
gateway's own ``gateway_cost_usd_total`` metric.

The workload: a support assistant with a long system prompt (about 3,000 tokens) answering
short questions, 20 requests per route. Routes (``load/examples/saving-money.yaml``):
``sonnet`` (Claude Sonnet 4.5, prompt caching off), ``sonnet-cached`` (the default ``auto``),
``oss`` (gpt-oss-20b, default tier) and ``oss-flex`` (``service_tier: flex``). The gateway runs
in-process against the strict emulator in us-west-2, which reports cache reads and writes as
Bedrock does; prices are the example catalogue's::

    .venv/bin/python load/saving_money.py            # a table
    .venv/bin/python load/saving_money.py --json     # one JSON object
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx2 as httpx
import openai
import orjson
import uvicorn
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from gateway.app import create_app  # noqa: E402
from gateway.config import Settings  # noqa: E402
from gateway.emulator.credentials import (  # noqa: E402
    EMULATOR_ACCESS_KEY_ID,
    EMULATOR_SECRET_ACCESS_KEY,
)
from gateway.emulator.runner import start_emulator_in_thread  # noqa: E402

POLICY = REPO / "load" / "examples" / "saving-money.yaml"
KEY = "sk-saving-money-example"
ROUTES = ("sonnet", "sonnet-cached", "oss", "oss-flex")
SYSTEM = (
    "You are the support assistant of Example Corp. Answer from the handbook below, briefly.\n"
    + "".join(
        f"Handbook section {i}: the policy on topic {i} is described here. " for i in range(180)
    )
)
REQUESTS = 20


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _cost(url: str) -> dict[str, float]:
    spent: dict[str, float] = {}
    for family in text_string_to_metric_families(httpx.get(f"{url}/metrics").text):
        for sample in family.samples:
            if sample.name == "gateway_cost_usd_total":
                route = sample.labels["route"]
                spent[route] = spent.get(route, 0.0) + sample.value
    return spent


def _run(url: str) -> dict[str, Any]:
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=KEY, max_retries=0)
    rows: dict[str, Any] = {}
    for route in ROUTES:
        cached = prompt = 0
        for i in range(REQUESTS):
            answer = client.chat.completions.create(
                model=route,
                messages=[
                    {"role": "system", "content": SYSTEM},
                    {"role": "user", "content": f"Question {i}: what does section {i} say?"},
                ],
                max_tokens=200,
            )
            assert answer.usage is not None
            prompt += answer.usage.prompt_tokens
            details = answer.usage.prompt_tokens_details
            cached += (details.cached_tokens or 0) if details else 0
        rows[route] = {"requests": REQUESTS, "prompt_tokens": prompt, "cached_tokens": cached}
    for route, usd in _cost(url).items():
        if route in rows:
            rows[route]["cost_usd"] = round(usd, 6)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    emulator = start_emulator_in_thread(strict=True)
    os.environ.update(
        {
            "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": emulator.url,
            "AWS_ACCESS_KEY_ID": EMULATOR_ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": EMULATOR_SECRET_ACCESS_KEY,
            "AWS_REGION": "us-west-2",
        }
    )
    settings = Settings(policies=POLICY, api_keys=KEY)  # type: ignore[arg-type]
    port = _port()
    app = create_app(settings, registry=CollectorRegistry())
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        rows = _run(f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        emulator.stop()
    if args.json:
        print(orjson.dumps(rows).decode())
        return
    print(f"{'route':<15}{'requests':>9}{'prompt tok':>12}{'cached tok':>12}{'cost USD':>12}")
    for route, row in rows.items():
        print(
            f"{route:<15}{row['requests']:>9}{row['prompt_tokens']:>12}"
            f"{row['cached_tokens']:>12}{row.get('cost_usd', 0.0):>12.6f}"
        )


if __name__ == "__main__":
    main()
