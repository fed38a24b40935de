"""Image: the Dockerfile passes hadolint, runs non-root and installs the pinned runtime lock."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.shipping.kit import REPO

DOCKERFILE = REPO / "Dockerfile"
HADOLINT = Path(sys.executable).parent / "hadolint"
BASE = re.compile(r"^python:3\.11\.\d+-slim-bookworm$")


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str


def parse_dockerfile(text: str) -> list[list[Instruction]]:
    """Instructions per stage (line continuations joined, comments dropped)."""
    logical: list[str] = []
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#") or (not stripped and not pending):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        logical.append(pending + stripped)
        pending = ""
    stages: list[list[Instruction]] = []
    for entry in logical:
        keyword, _, args = entry.partition(" ")
        instruction = Instruction(keyword.upper(), args.strip())
        if instruction.keyword == "FROM":
            stages.append([])
        stages[-1].append(instruction)
    return stages


def _exec_form(args: str) -> list[str]:
    parsed = json.loads(args)
    assert isinstance(parsed, list) and all(isinstance(a, str) for a in parsed), args
    return parsed


def test_hadolint_finds_nothing() -> None:
    result = subprocess.run(
        [str(HADOLINT), "--no-color", "--failure-threshold", "style", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_final_stage_runs_the_gateway_as_a_numeric_non_root_user() -> None:
    stages = parse_dockerfile(DOCKERFILE.read_text())
    assert len(stages) >= 2, "multi-stage"
    for stage in stages:
        image = stage[0].args.split()[0]
        assert BASE.match(image), f"base image not pinned to a 3.11.x slim-bookworm tag: {image}"
    final = stages[-1]
    by_keyword: dict[str, list[str]] = {}
    for instruction in final:
        by_keyword.setdefault(instruction.keyword, []).append(instruction.args)

    (user,) = by_keyword["USER"]
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) > 0 and (not gid or (gid.isdigit() and int(gid) > 0))

    (entrypoint,) = by_keyword.get("ENTRYPOINT", ["[]"])
    (cmd,) = by_keyword["CMD"]
    command = _exec_form(entrypoint) + _exec_form(cmd)
    assert command[:4] == ["python", "-m", "gateway", "serve"]
    assert command[command.index("--port") + 1] == "8080"
    assert by_keyword["EXPOSE"] == ["8080"]

    env = " ".join(by_keyword["ENV"])
    assert "GATEWAY_POLICIES=/app/policies" in env
    assert "PYTHONOPTIMIZE=2" in env  # the served paths are tested under it (test_optimized)
    assert "COPY policies /app/policies" in [f"COPY {a}" for a in by_keyword["COPY"]]
    assert any(a.startswith("--from=builder /opt/venv") for a in by_keyword["COPY"])
    # No package installs and no toolchain in the final stage: only the builder's venv.
    runs = " ".join(by_keyword.get("RUN", []))
    assert not re.search(r"\b(apt-get|apt|apk|pip|gcc|build-essential)\b", runs), runs


def test_builder_installs_exactly_the_runtime_lock() -> None:
    builder = parse_dockerfile(DOCKERFILE.read_text())[0]
    runs = [i.args for i in builder if i.keyword == "RUN"]
    assert any(
        "--only-binary=:all:" in r
        and "--no-deps" in r
        and "--require-hashes -r requirements-runtime.lock" in r
        for r in runs
    )
    assert any("pip wheel" in r and "--no-build-isolation" in r for r in runs)
    copies = [i.args for i in builder if i.keyword == "COPY"]
    assert "requirements-runtime.lock ./" in copies
    # The final stage runs with PYTHONOPTIMIZE=2 on a read-only root: its bytecode is built here.
    assert any("-OO -m compileall" in r and "/opt/venv/lib/python3.11" in r for r in runs)


def test_dockerignore_keeps_the_context_to_what_the_build_reads() -> None:
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert patterns[0] == "*"
    allowed = {p.removeprefix("!").rstrip("/") for p in patterns if p.startswith("!")}
    assert allowed == {
        "gateway",
        "policies",
        "pyproject.toml",
        "README.md",
        "requirements-runtime.lock",
    }
    sources = {
        source
        for stage in parse_dockerfile(DOCKERFILE.read_text())
        for i in stage
        if i.keyword == "COPY" and not i.args.startswith("--from")
        for source in i.args.split()[:-1]
    }
    assert sources <= allowed
