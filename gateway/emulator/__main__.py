"""Emulator: `python -m gateway.emulator [--host H] [--port P]` runs the Bedrock emulator."""

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
    args = parser.parse_args(argv)
    run_emulator(args.host, args.port)


if __name__ == "__main__":
    main()
