"""Capabilities (pure): the README's model table, generated from ``MODELS``.

``python -m gateway.capabilities.markdown --write README.md`` rewrites the block between
the ``models:start`` and ``models:end`` markers; ``--check README.md`` exits 1 when the
block is stale. The table is data, so it is never typed twice.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from gateway.capabilities.model import ModelCapabilities
from gateway.capabilities.pages import BASE_URL
from gateway.capabilities.table import MODELS

__all__ = ["END", "START", "main", "model_table", "replace_block"]

START = "<!-- models:start -->"
END = "<!-- models:end -->"
_HEADER = (
    "| id | name | lifecycle | on demand / profiles | features | max output | context "
    "| sources |\n|---|---|---|---|---|---|---|---|"
)


def _lifecycle(row: ModelCapabilities) -> str:
    if row.lifecycle == "eol":
        return f"end of life {row.eol_date}" if row.eol_date else "end of life"
    if row.lifecycle == "legacy":
        return f"legacy (EOL {row.eol_date})" if row.eol_date else "legacy"
    return "active"


def _offer(row: ModelCapabilities) -> str:
    regions = ", ".join(sorted(row.on_demand_regions)) or "profile only"
    profiles = " ".join(f"`{geo}.`" for geo in sorted(row.profiles))
    return f"{regions}; {profiles}" if profiles else regions


def _features(row: ModelCapabilities) -> str:
    if row.kind == "embedding":
        return "embeddings (InvokeModel)"
    flags = [
        ("no system prompt", not row.system_prompt),
        ("tools", row.tools),
        ("streaming tools", row.streaming_tools),
        (
            "toolChoice " + "/".join(sorted(row.tool_choice - {"auto"})),
            bool(row.tool_choice - {"auto"}),
        ),
        ("images", row.images),
        ("documents", row.documents),
        ("reasoning", row.reasoning is not None),
        ("temperature xor top_p", row.exclusive_sampling),
    ]
    names = [name for name, on in flags if on]
    cache = row.prompt_caching
    if cache is not None:
        names.append(f"caching ≥{cache.min_tokens} tok, {cache.max_points} points")
    if row.service_tiers:
        names.append("tiers " + "/".join(sorted(row.service_tiers)))
    if row.latency_optimized_regions:
        names.append("latency-optimized in " + ", ".join(sorted(row.latency_optimized_regions)))
    return ", ".join(names) or "text only"


def _sources(row: ModelCapabilities) -> str:
    return " ".join(
        f"[{i}]({src if src.startswith('https://') else BASE_URL + src})"
        for i, src in enumerate(row.sources, start=1)
    )


def _row(row: ModelCapabilities) -> str:
    max_out = str(row.max_output_tokens) if row.kind == "chat" else "-"
    default = f" (default {row.default_output_tokens})" if row.default_output_tokens else ""
    cells = (
        f"`{row.base_id}`",
        row.name,
        _lifecycle(row),
        _offer(row),
        _features(row),
        max_out + default,
        str(row.context_window),
        _sources(row),
    )
    return "| " + " | ".join(cells) + " |"


def model_table(rows: Iterable[ModelCapabilities] = MODELS) -> str:
    """The Markdown table, one line per row, in table order."""
    return "\n".join((_HEADER, *(_row(row) for row in rows)))


def replace_block(text: str, table: str) -> str:
    """``text`` with the block between the markers replaced by ``table``."""
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"markers {START} ... {END} not found")
    return f"{text[: start + len(START)]}\n{table}\n{text[end:]}"


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: print the table, ``--write FILE`` rewrites its block, ``--check FILE`` tests it."""
    parser = argparse.ArgumentParser(prog="python -m gateway.capabilities.markdown")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", type=Path, metavar="FILE")
    group.add_argument("--check", type=Path, metavar="FILE")
    args = parser.parse_args(argv)
    table = model_table()
    path: Path | None = args.write or args.check
    if path is None:
        print(table)
        return 0
    text = path.read_text(encoding="utf-8")
    updated = replace_block(text, table)
    if args.check:
        if updated != text:
            print(f"{path}: the model table is stale; run with --write", file=sys.stderr)
            return 1
        return 0
    path.write_text(updated, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
