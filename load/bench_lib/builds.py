"""Gateway builds of other git revisions (``git archive``), served by this checkout's venv."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bench_lib.config import REPO
from bench_lib.processes import Proc, Processes, compile_optimized, free_port, local_url


def export(rev: str, folder: Path) -> Path:
    """The tree of ``rev`` in ``folder`` (``git archive``)."""
    folder.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "archive", rev], cwd=REPO, capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def spawn_build(procs: Processes, name: str, tree: Path) -> Proc:
    port = free_port()
    command = [sys.executable, "-m", "gateway", "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", "1"]
    env = {**procs.gateway_env, "PYTHONPATH": str(tree)}
    compile_optimized(tree)
    pinned = procs.pinning.proxy_cpus
    log = procs.workdir / f"{name}.log"

    def pin() -> None:
        if pinned:
            os.sched_setaffinity(0, pinned)

    with open(log, "wb") as handle:
        popen = subprocess.Popen(
            command, cwd=tree, env=env, stdout=handle, stderr=subprocess.STDOUT, preexec_fn=pin
        )
    proc = Proc(name, popen, local_url(port), log)
    procs.procs[name] = proc
    procs.wait_ready(proc, "/readyz")
    return proc
