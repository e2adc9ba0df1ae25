"""The import-linter contracts cover every module and catch what they exist for: imports
planted in a copy of the package (an upward import, a way round the gate, the emulator and
the client reaching each other) each break a contract, named in lint-imports' report."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"

# module file -> the import planted at its end, and the words of the report that name it
PLANTED = {
    "api/client.py": ("import bulkctl.ui.app", "bulkctl.api.client -> bulkctl.ui.app"),
    "safetext.py": ("import bulkctl.waiting.wait", "bulkctl.safetext -> bulkctl.waiting.wait"),
    "ui/backend.py": ("import bulkctl.api.changes", "bulkctl.ui.backend -> bulkctl.api.changes"),
    "api/records.py": ("import bulkctl.emulator.spec", "bulkctl.api.records -> bulkctl.emulator"),
    "emulator/app.py": ("import bulkctl.api.records", "bulkctl.emulator.app -> bulkctl.api"),
}


@pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter is not installed")
def test_each_planted_import_breaks_a_contract(tmp_path: Path) -> None:
    shutil.copytree(
        ROOT / "bulkctl", tmp_path / "bulkctl", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    for name, (line, _) in PLANTED.items():
        path = tmp_path / "bulkctl" / name
        path.write_text(
            path.read_text(encoding="utf-8") + f"\n{line}  # planted\n", encoding="utf-8"
        )
    result = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = result.stdout + result.stderr
    assert result.returncode != 0, report
    missed = [name for name, (_, named) in PLANTED.items() if named not in report]
    assert missed == [], report
    for contract in (
        "Layers: each imports only from those below it BROKEN",
        "Only the gate (bulkctl.actions) sends changes of state BROKEN",
        "Only the demo wiring and the emulator's command reach the emulator BROKEN",
        "The emulator takes nothing from the client BROKEN",
    ):
        assert contract in report, report
