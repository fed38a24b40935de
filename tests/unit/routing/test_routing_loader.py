"""Loader: shipped files load; every bad file is refused with file, line, path and reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.routing import PolicyError, load_policy, load_policy_text, policy_files
from gateway.routing.compiler import compile_policy
from tests.unit.routing.routing_testkit import REPO, read_fixture

BAD_CASES: list[dict[str, Any]] = read_fixture("bad_policies.yaml")
SHIPPED = sorted((REPO / "policies").rglob("*.yaml"))

BASE = """\
version: 1
models:
  a:
    bedrock_id: x.a
    price: {input_per_mtok: 1, output_per_mtok: 2}
    context_window: 1000
routes:
  r: {strategy: cost, candidates: [a]}
"""


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(REPO)))
def test_every_shipped_policy_loads(path: Path) -> None:
    policy = load_policy(path)
    assert policy.models and policy.routes


def test_shipped_folder_loads_only_top_level_files() -> None:
    files = policy_files(REPO / "policies")
    assert [f.name for f in files] == ["default.yaml"]


@pytest.mark.parametrize("case", BAD_CASES, ids=[c["name"] for c in BAD_CASES])
def test_bad_policy_is_refused_with_location(case: dict[str, Any], tmp_path: Path) -> None:
    file = tmp_path / "policy.yaml"
    file.write_text(case["policy"], encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        load_policy(file)
    text = str(info.value)
    prefix = f"{file}:{case['line']}: "
    expected = f"{prefix}{case['path']}: " if case["path"] else prefix
    assert expected in text, text
    line = next(part for part in text.splitlines() if part.startswith(expected))
    assert case["message"] in line, text
    if case["path"]:  # the location is said once ("version: 2", not "version: version: 2")
        assert f"{case['path']}: {case['path']}:" not in line, line


def test_error_lists_every_issue() -> None:
    text = BASE + "  s: {strategy: cost, candidates: [b]}\n  t: {strategy: cost, candidates: [c]}\n"
    with pytest.raises(PolicyError) as info:
        load_policy_text(text, source="p.yaml")
    assert [i.path for i in info.value.issues] == [
        "routes.s.candidates[0]",
        "routes.t.candidates[0]",
    ]
    assert all(i.file == "p.yaml" and i.line == 9 + n for n, i in enumerate(info.value.issues))


@pytest.mark.parametrize(
    ("path", "message"),
    [("missing.yaml", "no such file or folder"), ("empty-dir", r"holds no \*\.yaml file")],
)
def test_missing_path_and_empty_folder(tmp_path: Path, path: str, message: str) -> None:
    (tmp_path / "empty-dir").mkdir()
    (tmp_path / "empty-dir" / "notes.txt").write_text("x")
    with pytest.raises(PolicyError, match=message):
        load_policy(tmp_path / path)


def test_empty_document(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text("# nothing\n")
    with pytest.raises(PolicyError, match=r"p\.yaml:1: the document is empty"):
        load_policy(tmp_path / "p.yaml")


def test_default_key_hashes_must_be_hashes() -> None:
    with pytest.raises(PolicyError, match=r"environment: GATEWAY_API_KEYS\[0\]: not a SHA-256"):
        load_policy_text(BASE, default_key_hashes=["sk-plain-key"])


def test_compile_accepts_a_plain_mapping() -> None:
    doc = {
        "version": 1,
        "models": {
            "a": {
                "bedrock_id": "x.a",
                "price": {"input_per_mtok": 1, "output_per_mtok": 2},
                "context_window": 10,
            }
        },
    }
    policy = compile_policy(doc)
    assert policy.defaults.route is None
    assert policy.resolve("") is None
    with pytest.raises(PolicyError, match=r"routes\.r\.candidates: missing required key"):
        compile_policy({**doc, "routes": {"r": {"strategy": "cost"}}})


# -- folders ---------------------------------------------------------------------------------


def _folder(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return tmp_path


def test_folder_merges_in_name_order(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        {
            "10-base.yaml": BASE + "rules:\n  - {when: {model: 'x*'}, route: r}\n",
            "20-more.yaml": (
                "version: 1\n"
                "models:\n"
                "  a: {bedrock_id: x.a2, context_window: 9,\n"
                "      price: {input_per_mtok: 5, output_per_mtok: 5}}\n"
                "  b: {bedrock_id: x.b, context_window: 9,\n"
                "      price: {input_per_mtok: 1, output_per_mtok: 1}}\n"
                "routes:\n  s: {strategy: ordered, candidates: [b, a]}\n"
                "rules:\n  - {when: {model: 'y*'}, route: s}\n"
                "defaults: {timeout_s: 5}\n"
            ),
            "30-defaults.yaml": "version: 1\ndefaults: {route: s}\n",
            ".hidden.yaml": "this is: [not loaded",
            "notes.yml": "not loaded either: [",
            "sub/ignored.yaml": "version: 2",
        },
    )
    policy = load_policy(folder)
    assert policy.sources == tuple(
        str(folder / n) for n in ("10-base.yaml", "20-more.yaml", "30-defaults.yaml")
    )
    assert policy.models["a"].bedrock_id == "x.a2"  # a later entry replaces the earlier one whole
    assert policy.models["a"].safety_tier == 1
    assert list(policy.routes) == ["r", "s"]
    assert [rule.route for rule in policy.rules] == ["r", "s"]  # rules concatenate
    assert policy.defaults.route == "s"
    assert policy.defaults.timeout_s == 5  # defaults merge by key
    assert policy.routes["r"].timeout_s == 5


def test_folder_error_names_the_file_and_line_it_came_from(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        {
            "a.yaml": BASE,
            "b.yaml": (
                "version: 1\nrules:\n"
                "  - when: {model: 'x'}\n    route: r\n"
                "  - when: {model: 'y'}\n    route: nope\n"
            ),
        },
    )
    with pytest.raises(PolicyError) as info:
        load_policy(folder)
    (issue,) = info.value.issues
    assert (issue.file, issue.line, issue.path) == (str(folder / "b.yaml"), 6, "rules[1].route")


def test_folder_replacement_forgets_the_earlier_lines(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        {
            "a.yaml": BASE,
            "b.yaml": "version: 1\nroutes:\n  r:\n    candidates: [a]\n",
        },
    )
    with pytest.raises(PolicyError) as info:
        load_policy(folder)
    (issue,) = info.value.issues
    assert (issue.file, issue.line, issue.path) == (str(folder / "b.yaml"), 3, "routes.r.strategy")


def test_every_file_of_a_folder_needs_version_1(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"a.yaml": BASE, "b.yaml": "tenants: {}\n"})
    with pytest.raises(PolicyError, match=r"b\.yaml:1: version: missing, expected 1"):
        load_policy(folder)
