"""Emulator: `python -m gateway.emulator [--host H] [--port P] [--strict|--lenient]`."""

from __future__ import annotations

import argparse

from gateway.emulator.runner import run_emulator


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m gateway.emulator",
        description="Bedrock Runtime emulator (a test and demo tool, not AWS).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9901)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--strict", action="store_true", help="refuse as Bedrock does per model")
    mode.add_argument("--lenient", dest="strict", action="store_false", help="accept any model")
    args = parser.parse_args(argv)
    run_emulator(args.host, args.port, strict=args.strict)


if __name__ == "__main__":
    main()
