"""CLI: ``gateway compare`` — replay a JSONL file of chat requests against several catalogued
models and print the shadow comparison table (or ``--json``), before there is any traffic.

Each line is an OpenAI chat request body (its ``model`` is ignored). Every request goes to every
model in ``--models`` directly through the Bedrock client (AWS from the standard chain; point
``AWS_ENDPOINT_URL_BEDROCK_RUNTIME`` at the emulator for a demo), at most ``--concurrency``
calls at once. The first model is the reference: agreement is measured against its answer to
the same request. Figures are those of ``GET /v1/gateway/shadow`` (``shadow.report``).
A progress bar (tqdm, on stderr) shows on a terminal, never under ``--json`` or when stderr is
not a TTY; ``--html FILE`` also writes the comparison as one self-contained page.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from tqdm import tqdm

from gateway.compare_args import add_compare_parser
from gateway.compare_report import html_page, table
from gateway.errors import GatewayError
from gateway.providers.aws_config import policy_region
from gateway.routing.engine import actual_cost
from gateway.routing.loader import load_policy
from gateway.routing.policy import ModelSpec, Policy, PolicyError
from gateway.shadow.agreement import answer_of, compare
from gateway.shadow.calls import CallResult, call_chat
from gateway.shadow.report import pair_report
from gateway.shadow.stats_store import MemoryShadowStore, Observation, PairKey
from gateway.translation.openai_to_converse import PreparedConversation, prepare_conversation

ROUTE = "compare"


class CompareError(Exception):
    """A bad argument or input line; the message says where."""


@dataclass(frozen=True, slots=True)
class Workload:
    prepared: PreparedConversation
    stream: bool


def run_compare(args: argparse.Namespace) -> int:
    """0 when every call was made (failed calls are figures, not errors); 2 on bad input."""
    try:
        policy = load_policy(args.policy, region=policy_region())
        models = _models(policy, args.models)
        workload = read_requests(Path(args.requests))
        if args.concurrency < 1:
            raise CompareError("--concurrency must be at least 1")
    except (PolicyError, CompareError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    timeout = args.timeout or policy.defaults.timeout_s
    residency = policy.defaults.residency_rank
    show = not args.json and sys.stderr.isatty()
    with progress_bar(len(workload) * len(models), show) as bar:
        result = asyncio.run(_replay(workload, models, args.concurrency, timeout, residency, bar))
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode() if args.json else table(result))
    if args.html is not None:
        args.html.write_text(html_page(result), encoding="utf-8")
        print(f"wrote {args.html}", file=sys.stderr)
    return 0


def progress_bar(total: int, show: bool) -> tqdm[Any]:
    """Calls done on stderr. A terminal that reports no size (0 x 0, as a bare pty does) gets
    80 x 24: tqdm would otherwise draw nothing at all."""
    size = shutil.get_terminal_size((80, 24))
    return tqdm(
        total=total,
        desc="calls",
        unit="call",
        disable=not show,
        ncols=size.columns,
        nrows=size.lines,
    )


def _models(policy: Policy, names: str) -> list[ModelSpec]:
    out: list[ModelSpec] = []
    for name in (n.strip() for n in names.split(",")):
        model = policy.models.get(name)
        if model is None or model.kind != "chat":
            raise CompareError(f"--models: '{name}' is not a chat model of the policy's catalogue")
        if model not in out:
            out.append(model)
    if not out:
        raise CompareError("--models names no model")
    return out


def read_requests(path: Path) -> list[Workload]:
    """Parse every line (blank lines skipped) as an OpenAI chat request."""
    from gateway.schemas.parse import parse_chat_request

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CompareError(f"cannot read {path}: {exc}") from None
    out: list[Workload] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            body = orjson.loads(line)
            if isinstance(body, dict):
                body = {**body, "model": body.get("model") or ROUTE}
            req = parse_chat_request(body)
            prepared = prepare_conversation(req, images=None, allow_image_urls=False)
        except orjson.JSONDecodeError as exc:
            raise CompareError(f"{path}:{number}: not JSON: {exc.msg}") from None
        except GatewayError as exc:
            raise CompareError(f"{path}:{number}: {exc.message}") from None
        out.append(Workload(prepared, bool(req.stream)))
    if not out:
        raise CompareError(f"{path}: no requests")
    return out


@dataclass(frozen=True, slots=True)
class Outcome:
    """One call: its result, or the error kind; ``elapsed`` either way."""

    result: CallResult | None
    error: str | None
    elapsed: float


async def _replay(
    workload: list[Workload],
    models: list[ModelSpec],
    concurrency: int,
    timeout: float,
    residency_rank: int,
    bar: tqdm[Any],
) -> dict[str, Any]:
    from gateway.providers.bedrock import BedrockClient

    limit = asyncio.Semaphore(concurrency)
    async with await BedrockClient.from_environment(pool_size=concurrency) as bedrock:

        async def one(item: Workload, model: ModelSpec) -> Outcome:
            try:
                return await call(item, model)
            finally:
                bar.update(1)

        async def call(item: Workload, model: ModelSpec) -> Outcome:
            async with limit:
                started = time.perf_counter()
                try:
                    result = await call_chat(
                        bedrock,
                        item.prepared,
                        model,
                        guardrail=None,
                        stream=item.stream,
                        timeout=timeout,
                        residency_rank=residency_rank,
                    )
                except GatewayError as err:
                    return Outcome(None, err.reason, time.perf_counter() - started)
                return Outcome(result, None, result.latency_s)

        outcomes = await asyncio.gather(*(one(item, m) for item in workload for m in models))
    return summarise(workload, models, outcomes)


def summarise(
    workload: list[Workload], models: list[ModelSpec], outcomes: Sequence[Outcome]
) -> dict[str, Any]:
    """The comparison of ``outcomes`` (request-major: every model's call for request 0, ...)."""
    store = MemoryShadowStore()
    reference = models[0]
    width = len(models)
    for index, item in enumerate(workload):
        row = outcomes[index * width : (index + 1) * width]
        for model, got in zip(models, row, strict=True):
            store.add(_observation(item, reference, row[0], model, got))
    pairs = store.snapshot_now("").pairs
    return {
        "object": "gateway.compare",
        "reference": reference.name,
        "requests": len(workload),
        "models": {
            m.name: pair_report(pairs[PairKey(ROUTE, reference.name, m.name)], None) for m in models
        },
    }


def _observation(
    item: Workload, reference: ModelSpec, ref: Outcome, model: ModelSpec, got: Outcome
) -> Observation:
    key = PairKey(ROUTE, reference.name, model.name)
    ref_cost, _, _ = _usage(reference, ref)
    ref_ttft = ref.result.ttft_s if ref.result else None
    cost, tokens_in, tokens_out = _usage(model, got)
    agreement = None
    if got.result is not None and ref.result is not None:
        agreement = compare(
            answer_of(ref.result.completion),
            answer_of(got.result.completion),
            json_mode=item.prepared.json_mode,
        )
    return Observation(
        key,
        got.error,
        got.elapsed,
        got.result.ttft_s if got.result else None,
        tokens_in,
        tokens_out,
        cost,
        ref.elapsed,
        ref_ttft,
        ref_cost,
        agreement,
    )


def _usage(model: ModelSpec, outcome: Outcome) -> tuple[float, int, int]:
    """(cost, input tokens, output tokens) of one call (zero when it failed)."""
    if outcome.result is None:
        return 0.0, 0, 0
    usage = outcome.result.completion.get("usage") or {}
    tokens_in = int(usage.get("prompt_tokens") or 0)
    tokens_out = int(usage.get("completion_tokens") or 0)
    return actual_cost(model, tokens_in, tokens_out), tokens_in, tokens_out


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m gateway.compare`` (the same as ``gateway compare``)."""
    parser = argparse.ArgumentParser(prog="gateway")
    add_compare_parser(parser.add_subparsers(dest="command", required=True))
    return run_compare(
        parser.parse_args(["compare", *(argv if argv is not None else sys.argv[1:])])
    )


if __name__ == "__main__":
    sys.exit(main())
