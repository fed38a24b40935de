"""Profiles: py-spy collapsed stacks (``--format raw``) to own-time tops and cost categories."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

# First match wins; checked against a frame's "function (path:line)" text.
CATEGORIES: tuple[tuple[str, str], ...] = (
    ("gateway/__main__", "process entry"),
    ("gateway/serving", "process entry"),
    ("<frozen runpy>", "process entry"),
    ("gateway/api/access_log", "access log"),
    ("logging/", "logging"),
    ("gateway/metrics", "metrics"),
    ("prometheus_client", "metrics"),
    ("gateway/providers/signing", "signing"),
    ("hmac.py", "signing"),
    ("gateway/providers/event_stream", "event stream decode"),
    ("botocore/eventstream", "event stream decode"),
    ("gateway/translation", "translation"),
    ("gateway/routing", "routing"),
    ("gateway/schemas", "request parsing (schemas)"),
    ("gateway/cache", "cache"),
    ("gateway/limits", "limits"),
    ("gateway/providers", "provider client"),
    ("gateway/api", "gateway api"),
    ("gateway/", "gateway other"),
    ("pydantic", "pydantic"),
    ("fastapi/", "FastAPI"),
    ("starlette/", "Starlette"),
    ("aiohttp/", "aiohttp client"),
    ("multidict", "aiohttp client"),
    ("yarl/", "aiohttp client"),
    ("uvicorn/", "uvicorn/httptools"),
    ("httptools", "uvicorn/httptools"),
    ("asyncio/", "asyncio/uvloop"),
    ("uvloop", "asyncio/uvloop"),
    ("anyio/", "anyio"),
    ("botocore/", "botocore"),
    ("orjson", "orjson"),
    ("json/", "json"),
)
_FRAME = re.compile(r"^(?P<name>.*?) \((?P<where>[^()]*)\)$")


@dataclass(frozen=True)
class Entry:
    """One row of a top list: what, samples, share of all samples (0..1)."""

    name: str
    samples: int
    share: float


def parse_collapsed(text: str) -> list[tuple[list[str], int]]:
    """``frame;frame;...;leaf COUNT`` lines as (frames root→leaf, count); a leading
    ``process ...`` or ``thread ...`` pseudo-frame is dropped."""
    stacks: list[tuple[list[str], int]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [f for f in stack.split(";") if f]
        while frames and frames[0].startswith(("process ", "thread ")):
            frames.pop(0)
        if frames:
            stacks.append((frames, int(count)))
    return stacks


def short_frame(frame: str) -> str:
    """``func (…/site-packages/pkg/mod.py:12)`` → ``func (pkg/mod.py:12)``."""
    match = _FRAME.match(frame)
    if match is None:
        return frame
    where = match.group("where")
    for marker in ("site-packages/", "/lib/python3."):
        if marker in where:
            where = where.split(marker, 1)[1]
            if marker.startswith("/lib"):
                where = where.split("/", 1)[-1]
    where = re.sub(r"^.*?/(gateway/)", r"\1", where)
    return f"{match.group('name')} ({where})"


def category(frame: str) -> str:
    for needle, name in CATEGORIES:
        if needle in frame:
            return name
    match = _FRAME.match(frame)
    where = match.group("where") if match else frame
    return "other: " + where.rsplit("/", 1)[-1].split(":", 1)[0]


def top_own(stacks: Iterable[tuple[list[str], int]], limit: int = 25) -> list[Entry]:
    """Functions by own time (samples where they are the leaf)."""
    counts: Counter[str] = Counter()
    total = 0
    for frames, count in stacks:
        counts[short_frame(frames[-1])] += count
        total += count
    return [Entry(name, n, n / total) for name, n in counts.most_common(limit)] if total else []


def by_category(stacks: Iterable[tuple[list[str], int]], *, inclusive: bool) -> list[Entry]:
    """Samples per category: of the leaf frame (own time) or of any frame in the stack."""
    counts: Counter[str] = Counter()
    total = 0
    for frames, count in stacks:
        total += count
        if inclusive:
            for name in {category(frame) for frame in frames}:
                counts[name] += count
        else:
            counts[category(frames[-1])] += count
    return [Entry(name, n, n / total) for name, n in counts.most_common()] if total else []
