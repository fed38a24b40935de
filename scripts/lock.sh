#!/usr/bin/env bash
# Regenerates the three dependency locks from pyproject.toml with uv (hashes included):
#   requirements-runtime.lock  [project].dependencies           -> the image (Dockerfile)
#   requirements-test.lock     + the `test` extra               -> bootstrap.sh, tests, CI
#   requirements-load.lock     + the `load` extra               -> the benchmark tools alone
# The runtime lock is resolved first and constrains the other two, so a package has one version
# in all three. Pins already in a lock are kept (uv prefers them) unless --upgrade is given.
# Needs the package registry; tests/shipping/test_locks.py checks the result offline.
#   bash scripts/lock.sh              # after editing dependencies in pyproject.toml
#   bash scripts/lock.sh --upgrade    # move every pin to the newest allowed release
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[ -x .venv/bin/uv ] || bash scripts/bootstrap.sh
UV=.venv/bin/uv
# Linux, CPython 3.11.14: the image's platform and the CI machine's.
common=(--generate-hashes --python-version 3.11.14 --python-platform linux
        --quiet "$@")
# The header records the command (relative paths only), so the test can check it.
export UV_NO_CONFIG=1
"$UV" pip compile pyproject.toml "${common[@]}" -o requirements-runtime.lock
"$UV" pip compile pyproject.toml --extra test -c requirements-runtime.lock "${common[@]}" \
  -o requirements-test.lock
"$UV" pip compile pyproject.toml --extra load -c requirements-runtime.lock "${common[@]}" \
  -o requirements-load.lock
echo "locks written: requirements-runtime.lock requirements-test.lock requirements-load.lock"
