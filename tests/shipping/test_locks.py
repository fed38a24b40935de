"""Locks: three uv-generated, hashed locks (runtime, test, load) that match pyproject.toml.

Offline checks of what ``bash scripts/lock.sh`` wrote: the generator and its options, a hash on
every pin, every pyproject requirement satisfied by its pin, exactly the dependency closure (no
stale or missing package), and one version per package across the three locks.
"""

from __future__ import annotations

import pytest
from packaging.utils import canonicalize_name

from tests.shipping.locks import LOCKS, REPO, closure, read_lock, requirements_of

REGENERATE = "out of date with pyproject.toml: run bash scripts/lock.sh"


def test_the_old_hand_made_lock_is_gone() -> None:
    assert not (REPO / "requirements.lock").exists()


@pytest.mark.parametrize(("name", "extra"), LOCKS.items())
def test_lock_is_generated_by_uv_with_hashes(name: str, extra: str | None) -> None:
    lock = read_lock(REPO / name)
    assert lock.command.startswith("uv pip compile pyproject.toml ")
    assert "--generate-hashes" in lock.command and f"-o {name}" in lock.command
    assert "--python-version 3.11" in lock.command and "--python-platform linux" in lock.command
    assert (f"--extra {extra}" in lock.command) == (extra is not None)
    if extra is not None:
        assert "-c requirements-runtime.lock" in lock.command
    assert lock.pins and all(n >= 1 for n in lock.hashes.values()), "a pin without a hash"


@pytest.mark.parametrize(("name", "extra"), LOCKS.items())
def test_lock_satisfies_pyproject_and_is_its_exact_closure(name: str, extra: str | None) -> None:
    lock = read_lock(REPO / name)
    wanted = requirements_of(extra)
    for req in wanted:
        pinned = lock.pins.get(canonicalize_name(req.name))
        assert pinned is not None, f"{name}: {req.name} missing; {REGENERATE}"
        assert req.specifier.contains(pinned, prereleases=True), f"{name}: {req} vs {pinned}"
    assert set(lock.pins) == closure(wanted), f"{name}: {REGENERATE}"


def test_a_package_has_one_version_in_every_lock() -> None:
    runtime = read_lock(REPO / "requirements-runtime.lock").pins
    for name in LOCKS:
        pins = read_lock(REPO / name).pins
        assert {n: pins[n] for n in runtime} == runtime, name


def test_runtime_lock_holds_no_test_or_load_tool() -> None:
    runtime = read_lock(REPO / "requirements-runtime.lock").pins
    for tool in ("pytest", "mypy", "ruff", "locust", "py-spy", "playwright", "openai", "uv"):
        assert tool not in runtime


def test_bootstrap_installs_the_test_lock_with_hashes() -> None:
    script = (REPO / "scripts" / "bootstrap.sh").read_text()
    assert "--require-hashes -r requirements-test.lock" in script
