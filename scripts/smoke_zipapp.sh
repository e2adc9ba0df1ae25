#!/usr/bin/env bash
# Smoke test of the single-file build, run by .ci/run: it builds dist/bulkctl.pyz, then runs
# it as a CI job would, with nothing but python3: --version, and one `list` against the
# emulator that the same file serves on a loopback port.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
server=""
cleanup() {
  local status=$?
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT

pyz="$work/bulkctl.pyz"
bash scripts/build_zipapp.sh "$pyz"
export SHIV_ROOT="$work/shiv" XDG_CONFIG_HOME="$work/config" XDG_STATE_HOME="$work/state"
# the interpreter beneath any virtual environment, isolated (-I): only what the file holds
python=$(python3 -c 'import sys; print(sys._base_executable)')
run() { "$python" -I "$pyz" "$@"; }

version=$(run --version)
echo "zipapp: $version"
[[ "$version" == bulkctl* ]] || { echo "zipapp: unexpected --version: $version" >&2; exit 1; }

# started directly, not through run(): $! must be the server itself, for the cleanup
"$python" -I "$pyz" emulator serve --port 0 >"$work/serve.out" 2>&1 &
server=$!
root=""
for _ in $(seq 100); do
  root=$(sed -n 's/^bulkctl emulator listening on //p' "$work/serve.out")
  [ -n "$root" ] && break
  sleep 0.1
done
[ -n "$root" ] || { echo "zipapp: the emulator did not start" >&2; cat "$work/serve.out" >&2; exit 1; }

rows=$(BULKCTL_BASE_URL="$root/multi" BULKCTL_API_KEY=demo-api-key-7f3a \
  BULKCTL_AUTH_TOKEN=demo-token-never-expires \
  run list --status RUNNING --limit 5 --json </dev/null |
  "$python" -c 'import json, sys; print(len(json.load(sys.stdin)))')
echo "zipapp: list against the emulator returned $rows bulks"
[ "$rows" -gt 0 ] || { echo "zipapp: list returned nothing" >&2; exit 1; }
