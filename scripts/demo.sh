#!/usr/bin/env bash
# The demo: the gateway with its built-in Bedrock emulator, a demo key printed on start.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/bootstrap.sh
exec .venv/bin/gateway serve --demo --host 127.0.0.1 --port "${PORT:-8080}" "$@"
