#!/usr/bin/env bash
# Known-vulnerability audit of the locked dependencies with pip-audit (PyPI's advisory data).
# Needs the registry's JSON API, so it is a separate command, not part of the test run:
#   bash scripts/audit.sh     # exit 0 clean, 1 a known vulnerability, 2 inconclusive
# Inconclusive = some pinned package could not be looked up (no advisory service reachable):
# that is never reported as clean.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PIP_AUDIT_VERSION="2.10.1"
if [ ! -x .venv/bin/pip-audit ]; then
  [ -x .venv/bin/python ] || bash scripts/bootstrap.sh
  .venv/bin/python -m pip install -q "pip-audit==${PIP_AUDIT_VERSION}"
fi
report="$(mktemp -d)"
trap 'rm -rf "$report"' EXIT
status=0
for lock in requirements-runtime.lock requirements-test.lock requirements-load.lock; do
  [ -f "$lock" ] || continue
  echo "== pip-audit -r $lock"
  # Every line is pinned (==): no resolver run, no temporary venv.
  audit=0
  .venv/bin/pip-audit -r "$lock" --no-deps --disable-pip --progress-spinner off \
    -f json -o "$report/$lock.json" "$@" 2>"$report/$lock.err" || audit=$?
  .venv/bin/python - "$report/$lock.json" "$audit" <<'PY' || status=$(( $? > status ? $? : status ))
import json, sys
path, code = sys.argv[1], int(sys.argv[2])
try:
    deps = json.load(open(path))["dependencies"]
except (OSError, ValueError, KeyError):
    print(f"  pip-audit failed (exit {code}); no report"); sys.exit(2)
vulnerable = [d for d in deps if d.get("vulns")]
skipped = [d for d in deps if d.get("skip_reason")]
for d in vulnerable:
    for v in d["vulns"]:
        fixed = ", ".join(v.get("fix_versions") or []) or "no fix yet"
        print(f"  VULNERABLE {d['name']}=={d['version']}: {v['id']} (fixed in {fixed})")
for d in skipped[:5]:
    print(f"  not audited: {d['name']}: {d['skip_reason']}")
if len(skipped) > 5:
    print(f"  ... and {len(skipped) - 5} more not audited")
audited = len(deps) - len(skipped)
print(f"  {len(deps)} pinned, {audited} audited, {len(vulnerable)} with known vulnerabilities")
sys.exit(1 if vulnerable else 2 if skipped else 0)
PY
done
case "$status" in
  0) echo "audit: clean" ;;
  1) echo "audit: known vulnerabilities found" ;;
  *) echo "audit: INCONCLUSIVE (advisory data unreachable for some packages)" ;;
esac
exit "$status"
