#!/usr/bin/env bash
# Creates .venv (Python 3.11+) and installs requirements-test.lock (runtime + test + load tools,
# every file checked against its hash) and the gateway into it. The locks are generated from
# pyproject.toml by scripts/lock.sh (uv); pip installs them, from the local package mirror when
# it has the file (pip's configured indexes) or the registry.
# Sourced by scripts/demo.sh and scripts/test.sh; idempotent and quick when nothing changed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
  "$PYTHON" -m venv .venv
fi
stamp=".venv/.installed-$(cat requirements-test.lock pyproject.toml | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install -q --disable-pip-version-check --require-hashes -r requirements-test.lock
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
  rm -f .venv/.installed-*
  touch "$stamp"
fi
