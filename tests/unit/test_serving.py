"""Unit tests: the serving process's tuning for thousands of streams (GC threshold, open files)."""

from __future__ import annotations

import gc
import resource
import subprocess
import sys
from collections.abc import Iterator

import pytest

from gateway.serving import GC_YOUNG_THRESHOLD, OPEN_FILES_SPARE, tune_gc

PROBE = """
import logging, resource, sys
logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(levelname)s %(message)s")
from gateway.serving import note_open_files, raise_open_files
if sys.argv[2] == "note":
    note_open_files(int(sys.argv[1]))
else:
    print("result", raise_open_files(int(sys.argv[1])))
print("soft", resource.getrlimit(resource.RLIMIT_NOFILE)[0])
"""


@pytest.fixture
def gc_threshold() -> Iterator[tuple[int, int, int]]:
    saved = gc.get_threshold()
    yield saved
    gc.set_threshold(*saved)


def test_tune_gc_raises_only_the_young_threshold(gc_threshold: tuple[int, int, int]) -> None:
    gc.set_threshold(700, 7, 9)
    tune_gc()
    assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, 7, 9)
    assert GC_YOUNG_THRESHOLD > 700


def _probe(pool: int, soft: int, hard: int | None = None, mode: str = "raise") -> str:
    _, current_hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    limits = (soft, current_hard if hard is None else hard)

    def lower() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, limits)

    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(pool), mode],
        preexec_fn=lower,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def test_a_low_soft_limit_is_raised_for_the_pool() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = 2 * 1000 + OPEN_FILES_SPARE
    if hard != resource.RLIM_INFINITY and hard < needed:
        pytest.skip(f"the hard open-file limit here ({hard}) is under {needed}")
    out = _probe(1000, soft=256)
    assert f"result (256, {needed})" in out and f"soft {needed}" in out
    noted = _probe(1000, soft=256, mode="note")
    assert f"INFO open-file limit raised from 256 to {needed}" in noted


def test_an_ample_soft_limit_is_left_alone() -> None:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < 2 * 10 + OPEN_FILES_SPARE:
        pytest.skip("the soft open-file limit here is too low for this case")
    out = _probe(10, soft=soft)
    assert f"result ({soft}, {soft})" in out and "WARNING" not in out


def test_a_hard_limit_under_the_pool_is_a_warning() -> None:
    assert "result (256, 512)" in _probe(4096, soft=256, hard=512)
    out = _probe(4096, soft=256, hard=512, mode="note")
    assert "soft 512" in out
    assert "WARNING open-file limit 512 (the hard limit) is under two sockets" in out
    assert "GATEWAY_UPSTREAM_POOL_SIZE" in out


SERVE_IMPORTS = """
import sys
from gateway.__main__ import _parser
from gateway.config import Settings
from gateway.app import create_app
_parser().parse_args(["serve"])
create_app(Settings(api_keys="k", policies="policies"))
print(" ".join(sorted(sys.modules)))
"""
# What other commands need and a serving process must not carry (each module is memory).
NOT_SERVED = (
    "gateway.compare",
    "gateway.compare_report",
    "gateway.models_command",
    "gateway.routing.models_table",
    "gateway.emulator",
    "boto3",
    "tqdm",
    "websockets",
    "watchfiles",  # uvicorn imports it whenever it is installed
    "pydantic.v1",  # FastAPI's check of a typed path parameter (gateway.api.openapi)
)


def test_a_serving_process_imports_no_other_command() -> None:
    env = {"AWS_REGION": "us-east-1", "PATH": "/usr/bin:/bin"}
    modules = subprocess.run(
        [sys.executable, "-c", SERVE_IMPORTS], capture_output=True, text=True, env=env, check=True
    ).stdout.split()
    assert "gateway.app" in modules
    loaded = [
        m for m in modules if m in NOT_SERVED or m.startswith(tuple(n + "." for n in NOT_SERVED))
    ]
    assert loaded == [], loaded
