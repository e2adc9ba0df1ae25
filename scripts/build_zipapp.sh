#!/usr/bin/env bash
# Build one file that holds bulkctl and its dependencies, for CI runners:
#   bash scripts/build_zipapp.sh [OUT]      (default dist/bulkctl.pyz; needs `pip install shiv`)
#   python3 dist/bulkctl.pyz --version
# Every dependency is pure Python, so the file runs on any Python 3.11+ on Linux or macOS.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-dist/bulkctl.pyz}
mkdir -p "$(dirname "$out")"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
python -m shiv --console-script bulkctl --python '/usr/bin/env python3' \
  --output-file "$out" . >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
echo "built $out ($(du -h "$out" | cut -f1))" >&2
