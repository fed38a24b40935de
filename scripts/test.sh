#!/usr/bin/env bash
# The whole test suite from a fresh clone: venv, dependencies, Redis, static checks, pytest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/bootstrap.sh

# Redis: the tests start (and stop) their own redis-server on free loopback ports, so only the
# binary is needed (Debian's package); nothing is left running after the run.
if ! command -v redis-server >/dev/null 2>&1; then
  echo "redis-server missing: installing Debian's redis-server" >&2
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  fi
fi
# The /ui browser test drives Debian's Chromium through Playwright (never Playwright's own
# browser download, which cannot work offline).
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "chromium missing: installing Debian's chromium for the browser test" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
    || echo "warning: chromium could not be installed; the browser test will be skipped" >&2
fi
# The transport tests put a real forward proxy (Debian's tinyproxy) between gateway and emulator.
if ! command -v tinyproxy >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "tinyproxy missing: installing Debian's tinyproxy for the proxy tests" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tinyproxy >/dev/null \
    || echo "warning: tinyproxy could not be installed; the proxy tests will be skipped" >&2
fi
echo "== ruff"; .venv/bin/ruff check .
echo "== mypy"; .venv/bin/mypy
echo "== import-linter"; .venv/bin/lint-imports
echo "== pytest"; .venv/bin/pytest -q "$@"
