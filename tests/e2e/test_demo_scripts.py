"""E2E: the documented demo commands do what the README says (``scripts/demo.sh``)."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.servers import REPO, free_port


@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs Debian's chromium")
def test_shadow_demo_fills_the_comparison_and_screenshots_ui(tmp_path: Path) -> None:
    shot = tmp_path / "ui.png"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "AWS_"))}
    result = subprocess.run(
        [
            sys.executable,
            "scripts/demo_shadow.py",
            "--port",
            str(free_port()),
            "--rounds",
            "1",
            "--screenshot",
            str(shot),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    compared = next(line for line in result.stdout.splitlines() if "shadow calls compared" in line)
    assert int(compared.split()[2]) >= 3  # every shadow model answered at least once
    header = shot.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", header[16:24])
    assert width == 1400 and height > 1000  # the whole page, not the sign-in form


def test_demo_script_offers_the_shadow_mode_and_loopback() -> None:
    script = (REPO / "scripts" / "demo.sh").read_text()
    assert '"--shadow"' in script and "scripts/demo_shadow.py" in script
    assert "--host 127.0.0.1" in script


def test_test_script_leaves_no_redis_running() -> None:
    """The tests start and stop their own servers; test.sh starts none that could outlive it."""
    script = (REPO / "scripts" / "test.sh").read_text()
    assert "--daemonize" not in script and "redis-server --" not in script
