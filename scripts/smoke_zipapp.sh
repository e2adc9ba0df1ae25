#!/usr/bin/env bash
# Smoke test of the single-file build, run by .ci/run: it builds dist/bulkctl.pyz, then runs
# it as a CI job would, with nothing but python3: --version, and one `list` against the
# emulator that the same file serves on a loopback port. Then the same, and a submission's
# checks (the other compiled dependency), with every other CPython 3.11+ it finds (on PATH as
# python3.N, or among pyenv's versions): the file carries a compiled module for each.
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

# every other CPython 3.11+ found here runs the same file: --version, the list, a dry run
others=()
main_minor=$("$python" -c 'import sys; print(sys.version_info[1])')
for minor in 11 12 13 14; do
  [ "$minor" = "$main_minor" ] && continue
  found=$(command -v "python3.$minor" 2>/dev/null || true)
  if [ -n "$found" ] && ! "$found" -c '' 2>/dev/null; then found=""; fi  # a pyenv shim
  if [ -z "$found" ] && command -v pyenv >/dev/null 2>&1; then
    for dir in "$(pyenv root)"/versions/3."$minor".*; do
      [ -x "$dir/bin/python3" ] && found="$dir/bin/python3"
    done
  fi
  [ -n "$found" ] && others+=("$found")
done
printf '{"pathParams": {"_id_": "5501"}}\n' >"$work/blocks.jsonl"
for other in "${others[@]}"; do
  label=$("$other" -c 'import sys; print("Python %d.%d" % sys.version_info[:2])')
  version=$("$other" -I "$pyz" --version)
  [[ "$version" == bulkctl* ]] || { echo "zipapp: $label: unexpected --version" >&2; exit 1; }
  rows=$(BULKCTL_BASE_URL="$root/multi" BULKCTL_API_KEY=demo-api-key-7f3a \
    BULKCTL_AUTH_TOKEN=demo-token-never-expires \
    "$other" -I "$pyz" list --status RUNNING --limit 5 --json </dev/null 2>/dev/null |
    "$other" -c 'import json, sys; print(len(json.load(sys.stdin)))')
  [ "$rows" -gt 0 ] || { echo "zipapp: $label: list returned nothing" >&2; exit 1; }
  "$other" -I "$pyz" --profile demo submit card-blocks "$work/blocks.jsonl" --dry-run \
    >/dev/null 2>"$work/dry.err" || { echo "zipapp: $label: the dry run failed" >&2; cat "$work/dry.err" >&2; exit 1; }
  echo "zipapp: $label ran it: --version, list ($rows bulks), a submission's dry run"
done
