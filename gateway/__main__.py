"""CLI: ``gateway serve | emulator | check-policy | models | compare`` — builds Settings and
runs uvicorn."""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from pydantic import ValidationError

from gateway.config import Settings, settings_errors
from gateway.logs import configure_logging

DEMO_AWS_ENV_CLEARED = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_BEARER_TOKEN_BEDROCK")
DESCRIPTION = """\
An OpenAI-compatible gateway for Amazon Bedrock: clients call /v1/chat/completions and
/v1/embeddings with the openai SDK; a policy routes each request to a Bedrock model (cost,
latency, safety tier, fallbacks), with caching, rate limits and shadow comparison."""
EPILOG = """\
examples:
  gateway serve --demo                      try it: built-in Bedrock emulator, demo keys
  GATEWAY_API_KEYS=sk-1 gateway serve       against Bedrock (AWS credentials from the chain)
  gateway check-policy policies/            validate a policy file or folder
  gateway models --discover                 the catalogue, and what the AWS region offers
  gateway compare requests.jsonl --policy policies/ --models nova-lite,claude-3-haiku
run 'gateway COMMAND --help' for a command's options."""
LOOPBACK = "127.0.0.1"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gateway",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = sub.add_parser("serve", help="run the gateway")
    serve.add_argument(
        "--host",
        default=LOOPBACK,
        help="address to listen on (default 127.0.0.1, this machine only; 0.0.0.0 for all)",
    )
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--policies", help="policy file or folder (GATEWAY_POLICIES)")
    serve.add_argument(
        "--demo", action="store_true", help="start the built-in Bedrock emulator and a demo key"
    )
    emulator = sub.add_parser("emulator", help="run the Bedrock Runtime emulator alone")
    emulator.add_argument("--host", default="127.0.0.1")
    emulator.add_argument("--port", type=int, default=9901)
    mode = emulator.add_mutually_exclusive_group()
    mode.add_argument(
        "--strict", action="store_true", help="refuse per model and region as Bedrock does"
    )
    mode.add_argument(
        "--lenient", dest="strict", action="store_false", help="accept any model id (default)"
    )
    check = sub.add_parser("check-policy", help="validate a policy file or folder")
    check.add_argument("path")
    check.add_argument(
        "--region",
        help="AWS region to check inference profiles for (default: AWS_REGION, the profile's)",
    )
    from gateway.compare_args import add_compare_parser
    from gateway.models_args import add_models_parser

    add_compare_parser(sub)
    add_models_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "check-policy":
        return check_policy(args.path, args.region)
    if args.command == "compare":
        from gateway.compare import run_compare

        return run_compare(args)
    if args.command == "models":
        from gateway.models_command import run_models

        return run_models(args)
    if args.command == "emulator":
        from gateway.emulator.runner import run_emulator

        run_emulator(args.host, args.port, strict=args.strict)
        return 0
    return serve(args)


def check_policy(path: str, region: str | None = None) -> int:
    """0 for a valid policy (warnings printed, they do not fail), 1 for an invalid one."""
    from gateway.providers.aws_config import policy_region
    from gateway.routing.describe import describe_policy
    from gateway.routing.loader import load_policy
    from gateway.routing.policy import PolicyError

    region = region or policy_region()
    try:
        policy = load_policy(path, region=region)
    except PolicyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(describe_policy(policy))
    if policy.warnings:
        print(f"\n{len(policy.warnings)} warning(s) for region {region}:")
        for issue in policy.warnings:
            print(f"warning: {issue}")
    return 0


def _start_demo() -> None:
    """Point botocore at an in-process emulator and hand out a demo key."""
    from gateway.emulator.credentials import (
        EMULATOR_ACCESS_KEY_ID,
        EMULATOR_REGION,
        EMULATOR_SECRET_ACCESS_KEY,
    )
    from gateway.emulator.runner import start_emulator_in_thread

    emulator = start_emulator_in_thread("127.0.0.1", 0, strict=True)
    for name in DEMO_AWS_ENV_CLEARED:
        os.environ.pop(name, None)
    os.environ.update(
        AWS_ENDPOINT_URL_BEDROCK_RUNTIME=emulator.url,
        AWS_ACCESS_KEY_ID=EMULATOR_ACCESS_KEY_ID,
        AWS_SECRET_ACCESS_KEY=EMULATOR_SECRET_ACCESS_KEY,
        AWS_REGION=EMULATOR_REGION,
    )
    key = os.environ.get("GATEWAY_DEMO_KEY") or "sk-demo-" + secrets.token_urlsafe(16)
    existing = os.environ.get("GATEWAY_API_KEYS", "")
    os.environ["GATEWAY_API_KEYS"] = ",".join(k for k in (existing, key) if k)
    admin = os.environ.setdefault("GATEWAY_ADMIN_KEY", "sk-admin-" + secrets.token_urlsafe(16))
    os.environ["GATEWAY_DEMO"] = "true"
    print(f"demo: Bedrock emulator at {emulator.url} (test tool, strict, not AWS)", flush=True)
    print(f"demo: client API key  {key}", flush=True)
    print(f"demo: admin key       {admin}", flush=True)


def serve(args: argparse.Namespace) -> int:
    if args.policies:
        os.environ["GATEWAY_POLICIES"] = args.policies
    if args.demo:
        _start_demo()
        shown = LOOPBACK if args.host in ("0.0.0.0", "::") else args.host
        print(
            f"demo: OpenAI base_url http://{shown}:{args.port}/v1, page http://{shown}:{args.port}/ui"
            " (sign in with the admin key)",
            flush=True,
        )
        local = args.host in (LOOPBACK, "localhost", "::1")
        reach = "this machine only" if local else "every interface: keys matter"
        print(f"demo: listening on {args.host} ({reach})", flush=True)
    try:
        settings = Settings()
    except ValidationError as exc:
        print(f"error: invalid GATEWAY_* setting: {settings_errors(exc)}", file=sys.stderr)
        return 2
    if not settings.api_key_hashes() and not settings.demo:
        print(
            "error: no client key configured. Set GATEWAY_API_KEYS (comma-separated keys for the"
            " default tenant), or run 'gateway serve --demo' to try it with the emulator.",
            file=sys.stderr,
        )
        return 2
    configure_logging(settings)
    return _run_uvicorn(settings, args)


def _run_uvicorn(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.providers.aws_config import policy_region, region_problem
    from gateway.routing.loader import load_policy
    from gateway.routing.policy import PolicyError
    from gateway.serving import http_protocol, note_open_files
    from gateway.serving import serve as serve_app

    note_open_files(settings.upstream_pool_size)  # the workers inherit the raised limit
    problem = region_problem(policy_region())
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2

    options = {
        "host": args.host,
        "port": args.port,
        "loop": "uvloop",
        "http": http_protocol(settings),
        "access_log": False,
        "log_config": None,
        "timeout_graceful_shutdown": 30,
        "ws": "none",  # no WebSocket endpoints, so not the websockets import either
        "proxy_headers": False,  # nothing reads the client address: no per-request rewrite
        "server_header": False,
    }
    try:
        if args.workers > 1:  # each worker builds its own app; the supervisor only checks
            load_policy(settings.policies)
            with metrics_dir():
                serve_app(None, workers=args.workers, metrics_port=settings.metrics_port, **options)
            return 0
        from gateway.app import create_app

        app = create_app(settings)  # refuses an invalid policy before binding the port
    except PolicyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    serve_app(app, workers=1, metrics_port=settings.metrics_port, **options)
    return 0


@contextlib.contextmanager
def metrics_dir() -> Iterator[None]:
    """For several workers: a clean prometheus multiprocess folder, made and removed here
    (or the operator's ``PROMETHEUS_MULTIPROC_DIR``, emptied of a previous run's files)."""
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    folder = Path(given) if given else Path(tempfile.mkdtemp(prefix="gateway-metrics-"))
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    try:
        yield
    finally:
        if given is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
