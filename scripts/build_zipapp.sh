#!/usr/bin/env bash
# Build one file that holds bulkctl and its dependencies, for CI runners:
#   bash scripts/build_zipapp.sh [OUT]      (default dist/bulkctl.pyz; needs `pip install shiv`)
#   python3 dist/bulkctl.pyz --version
# Two dependencies are compiled (msgspec, which every command loads, and rpds, which the
# submission checks load). The file carries their compiled module for each CPython and
# platform in PYTHONS and PLATFORMS below, side by side (each file's name says which), so it runs on any
# of them: Python 3.11 to 3.14 on Linux (x86_64, aarch64) or macOS (arm64, x86_64).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-dist/bulkctl.pyz}
mkdir -p "$(dirname "$out")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
PYTHONS="3.11 3.12 3.13 3.14"
PLATFORMS="manylinux2014_x86_64 manylinux2014_aarch64 macosx_11_0_arm64 macosx_10_13_x86_64"

python -m pip install -q --disable-pip-version-check --target "$work/site" . >"$work/log" 2>&1 ||
  { cat "$work/log" >&2; exit 1; }

# the distributions with a compiled module, as name==version (read from what was installed)
compiled=$(python - "$work/site" <<'EOF'
import sys
from importlib.metadata import distributions

for dist in distributions(path=[sys.argv[1]]):
    if any(str(f).endswith((".so", ".pyd")) for f in dist.files or ()):
        print(f"{dist.metadata['Name']}=={dist.version}")
EOF
)
for requirement in $compiled; do
  for version in $PYTHONS; do
    for platform in $PLATFORMS; do
      # a combination the project publishes no wheel for is left out, and said
      python -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
        --python-version "$version" --platform "$platform" --dest "$work/wheels" \
        "$requirement" >"$work/log" 2>&1 ||
        echo "no wheel of $requirement for Python $version on $platform: left out" >&2
    done
  done
done
# only the compiled modules: the rest of each wheel is the same for every Python
python - "$work/wheels" "$work/site" <<'EOF'
import sys
import zipfile
from pathlib import Path

wheels, site = Path(sys.argv[1]), Path(sys.argv[2])
for wheel in sorted(wheels.glob("*.whl")) if wheels.exists() else ():
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            if name.endswith((".so", ".pyd")) and not (site / name).exists():
                archive.extract(name, site)
EOF

python -m shiv --site-packages "$work/site" --console-script bulkctl \
  --python '/usr/bin/env python3' --output-file "$out" >"$work/log" 2>&1 ||
  { cat "$work/log" >&2; exit 1; }
echo "built $out ($(du -h "$out" | cut -f1))" >&2
