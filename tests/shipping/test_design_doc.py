"""Docs: the design document's layers are import-linter's, and nothing points outside the repo."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

from tests.shipping.kit import REPO

MARK = "<!-- layers:"
OUTSIDE = re.compile(r"DESIGN\.md|\.\./shared|shared/reference|DESIGN §|reference §")


def _contract_layers() -> list[str]:
    with (REPO / "pyproject.toml").open("rb") as fh:
        contracts = tomllib.load(fh)["tool"]["importlinter"]["contracts"]
    (layers,) = [c["layers"] for c in contracts if c["type"] == "layers"]
    return list(layers)


def test_design_doc_draws_the_layers_of_the_import_contract() -> None:
    text = (REPO / "docs" / "design.md").read_text()
    block = text[text.index(MARK) :].split("```text\n", 1)[1].split("```", 1)[0]
    assert block.splitlines() == _contract_layers()
    for layer in _contract_layers():
        for name in layer.split(" | "):
            short = name.removeprefix("gateway.")
            assert f"`{short}`" in text or f"`{short}` (" in text, f"{short} not described"


def test_readme_links_the_design_doc_and_contributing() -> None:
    readme = (REPO / "README.md").read_text()
    assert "docs/design.md" in readme and "CONTRIBUTING.md" in readme
    assert (REPO / "CONTRIBUTING.md").exists()


def test_nothing_refers_to_files_outside_the_repository() -> None:
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    offenders = []
    for name in files:
        path = REPO / name
        if path.suffix in {".png", ".lock"} or not path.is_file() or path == Path(__file__):
            continue
        text = path.read_text(errors="replace")
        offenders += [f"{name}: {m.group(0)}" for m in OUTSIDE.finditer(text)]
    assert offenders == []
