"""Tests: a policy cannot hurt the process loading it — aliases refused, files capped in size."""

from __future__ import annotations

import resource
import time
from pathlib import Path

import pytest

from gateway.__main__ import main
from gateway.routing import PolicyError, load_policy, load_policy_text
from gateway.routing.loader import MAX_POLICY_BYTES

MINIMAL = (
    "version: 1\nmodels:\n  m: {bedrock_id: anthropic.claude-3-haiku-20240307-v1:0,"
    " context_window: 200000, price: {input_per_mtok: 1, output_per_mtok: 1}}\n"
    "routes:\n  r: {strategy: ordered, candidates: [m]}\ndefaults: {route: r}\n"
)


def alias_bomb(levels: int = 9) -> str:
    """A few hundred bytes that a YAML loader expands to 9**levels strings when walked."""
    lines = ["version: 1", 'a0: &a0 ["x","x","x","x","x","x","x","x","x"]']
    for level in range(1, levels):
        ref = f"*a{level - 1}"
        lines.append(f"a{level}: &a{level} [{','.join([ref] * 9)}]")
    return "\n".join(lines) + "\n"


def test_alias_bomb_is_refused_at_once_with_its_line(tmp_path: Path) -> None:
    text = alias_bomb()
    assert len(text) < 500
    path = tmp_path / "bomb.yaml"
    path.write_text(text)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    elapsed = time.perf_counter() - started
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    print(
        f"\nalias bomb of {len(text)} bytes: refused in {elapsed * 1000:.2f} ms, "
        f"peak RSS grew {grown_mb:.1f} MB"
    )
    message = str(info.value)
    assert f"{path}:3" in message and "alias *a0" in message
    assert elapsed < 5  # generous bound: the unguarded loader did not finish in 15 s


@pytest.mark.parametrize(
    "text",
    [
        MINIMAL + "tenants:\n  t: {key_sha256: [&k " + "a" * 64 + "]}\n  u: {key_sha256: [*k]}\n",
        MINIMAL.replace("defaults: {route: r}", "d: &d {route: r}\ndefaults: *d"),
        MINIMAL.replace("defaults: {route: r}", "defaults: {<<: *nothing}"),
    ],
    ids=["scalar-alias", "mapping-alias", "merge-key-alias"],
)
def test_any_alias_is_refused(text: str) -> None:
    with pytest.raises(PolicyError, match=r"alias \*\w+ is not accepted"):
        load_policy_text(text, source="p.yaml")


def test_an_anchor_without_alias_is_harmless_and_loads() -> None:
    policy = load_policy_text(MINIMAL.replace("routes:\n  r:", "routes:\n  r: &route"))
    assert "r" in policy.routes


@pytest.mark.parametrize("padding", [MAX_POLICY_BYTES, 4 * MAX_POLICY_BYTES])
def test_a_file_over_the_size_cap_is_refused_before_parsing(tmp_path: Path, padding: int) -> None:
    path = tmp_path / "big.yaml"
    path.write_text(MINIMAL + "#" + "x" * padding + "\n")
    with pytest.raises(PolicyError, match=f"larger than {MAX_POLICY_BYTES} bytes") as info:
        load_policy(path)
    assert f"{path}:1" in str(info.value)


def test_a_file_just_under_the_cap_loads(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(MINIMAL + "#" + "x" * (MAX_POLICY_BYTES - len(MINIMAL) - 3) + "\n")
    assert path.stat().st_size <= MAX_POLICY_BYTES
    assert "r" in load_policy(path).routes


def test_check_policy_refuses_the_bomb_with_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(alias_bomb())
    assert main(["check-policy", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"{path}:3" in err and "alias" in err
