"""The emulator is an independent check on the client: it imports nothing from the client."""

from __future__ import annotations

import ast
from pathlib import Path

import bulkctl.emulator

EMULATOR_DIR = Path(bulkctl.emulator.__file__).parent


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):  # imports inside functions count too
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_the_emulator_imports_only_itself_from_bulkctl() -> None:
    offenders = {
        f"{path.name}: {name}"
        for path in EMULATOR_DIR.glob("*.py")
        for name in imported_modules(path)
        if name.startswith("bulkctl") and not name.startswith("bulkctl.emulator")
    }
    assert offenders == set()


def test_the_demo_credentials_stay_exported() -> None:
    from bulkctl.emulator.app import DEMO_API_KEY, DEMO_TOKEN

    assert DEMO_API_KEY and DEMO_TOKEN
