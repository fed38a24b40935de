"""CLI: ``gateway compare``'s arguments, apart from the command itself, so that building the
CLI parser (which ``gateway serve`` does too) imports nothing the comparison needs (tqdm, the
report, the shadow layer): a serving process stays that much smaller."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_compare_parser(subparsers: Any) -> argparse.ArgumentParser:
    """``gateway compare``'s arguments, on the CLI's subparsers."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "compare", help="replay chat requests against several models and compare them"
    )
    parser.add_argument("requests", help="JSONL file: one OpenAI chat request body per line")
    parser.add_argument("--policy", required=True, help="policy file or folder (the catalogue)")
    parser.add_argument(
        "--models",
        required=True,
        help="comma-separated catalogue names; the first is the reference",
    )
    parser.add_argument("--concurrency", type=int, default=4, help="calls at once (default 4)")
    parser.add_argument("--timeout", type=float, default=None, help="seconds per call")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--html", metavar="FILE", type=Path, help="also write the comparison and its chart as HTML"
    )
    return parser
