"""The image's runtime lock: pyproject's dependency closure at requirements.lock's versions.

Regenerate after a dependency change: ``.venv/bin/python -m tests.shipping.runtime_lock``.
"""

from __future__ import annotations

import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name

REPO = Path(__file__).resolve().parents[2]
RUNTIME_LOCK = REPO / "requirements-runtime.lock"
DEV_LOCK = REPO / "requirements.lock"
HEADER = """\
# Runtime dependencies of the image: pyproject [project].dependencies and everything they
# need on Linux / CPython 3.11, pinned to requirements.lock's versions. The Dockerfile
# installs exactly these (binary wheels, --no-deps); tests/shipping checks the closure.
# Regenerate: .venv/bin/python -m tests.shipping.runtime_lock
"""


def project_dependencies() -> list[str]:
    with (REPO / "pyproject.toml").open("rb") as fh:
        deps: list[str] = tomllib.load(fh)["project"]["dependencies"]
    return deps


def closure(requirements: list[str]) -> set[NormalizedName]:
    """Every distribution the requirements pull in here (Linux, this Python), extras included."""
    extras_seen: dict[NormalizedName, set[str]] = {}
    todo = [Requirement(r) for r in requirements]
    todo = [r for r in todo if r.marker is None or r.marker.evaluate({"extra": ""})]
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        extras = {canonicalize_name(e) for e in req.extras}
        if name in extras_seen and extras <= extras_seen[name]:
            continue
        extras_seen[name] = extras_seen.get(name, set()) | extras
        for text in metadata.distribution(name).requires or []:
            sub = Requirement(text)
            wanted = extras_seen[name] | {""}
            if sub.marker is None or any(sub.marker.evaluate({"extra": e}) for e in wanted):
                sub.marker = None
                todo.append(sub)
    return set(extras_seen)


def read_lock(path: Path) -> dict[NormalizedName, tuple[str, str]]:
    """canonical name -> (name as written, version) of a ``name==version`` lock file."""
    pins: dict[NormalizedName, tuple[str, str]] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, version = line.partition("==")
        if not sep:
            raise ValueError(f"{path.name}: not name==version: {line!r}")
        pins[canonicalize_name(name)] = (name, version)
    return pins


def render() -> str:
    pins = read_lock(DEV_LOCK)
    names = sorted(closure(project_dependencies()))
    return HEADER + "".join(f"{pins[n][0]}=={pins[n][1]}\n" for n in names)


if __name__ == "__main__":
    RUNTIME_LOCK.write_text(render())
    print(f"wrote {RUNTIME_LOCK}", file=sys.stderr)
