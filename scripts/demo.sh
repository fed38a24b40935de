#!/usr/bin/env bash
# The demo: the gateway with its built-in Bedrock emulator on 127.0.0.1, keys printed on start.
#   bash scripts/demo.sh                    # PORT=8080 by default; extra args go to gateway serve
#   bash scripts/demo.sh --shadow           # + shadow comparison: example traffic, then /ui
#   bash scripts/demo.sh --shadow --screenshot docs/ui.png   # regenerate the README's picture
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/bootstrap.sh
if [ "${1:-}" = "--shadow" ]; then
  shift
  exec .venv/bin/python scripts/demo_shadow.py "$@"
fi
exec .venv/bin/gateway serve --demo --host 127.0.0.1 --port "${PORT:-8080}" "$@"
