"""CONTRIBUTING's picture of the package is the tree: every module outside ``commands/`` and
``emulator/`` is named in it under its folder, and everything it names exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "bulkctl"
SKIPPED = ("commands", "emulator")  # one file a command / the emulator: named as folders


def pictured() -> set[str]:
    """The paths the layout block names under bulkctl/, as 'folder/' or 'folder/module.py'."""
    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    block = text.split("## Layout", 1)[1].split("```", 2)[1]
    names: set[str] = set()
    folder = ""
    inside = False
    for line in block.splitlines():
        if line.startswith("bulkctl/"):
            inside = True
            continue
        if not inside or not line.strip():
            continue
        match = re.match(r"^( +)(\S+)", line)
        if match is None:
            continue
        indent, name = len(match.group(1)), match.group(2)
        if indent == 2:
            folder = name if name.endswith("/") else ""
            if not name.endswith("/") and not name.endswith(".py"):
                inside = False  # past the package: tests/ and the like
                continue
            names.add(name)
        elif indent == 4 and folder and folder.rstrip("/") not in SKIPPED:
            names.add(folder + name)
    return names


def in_tree() -> set[str]:
    found: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).parts
        if path.name == "__init__.py" and len(parts) > 1:
            continue  # a folder's __init__ is the folder
        if len(parts) == 1:
            found.add(parts[0])
        elif len(parts) == 2 or parts[0] in SKIPPED:
            found.add(parts[0] + "/")
            if parts[0] not in SKIPPED:
                found.add(f"{parts[0]}/{parts[1]}")
    return found


def test_the_layout_in_contributing_names_every_module_and_only_those() -> None:
    pictured_names, tree = pictured(), in_tree()
    assert sorted(tree - pictured_names) == [], "modules missing from CONTRIBUTING's layout"
    assert sorted(pictured_names - tree) == [], "CONTRIBUTING names modules that do not exist"


def test_the_picture_is_read_as_folders_and_modules() -> None:
    # a guard on the reader itself: it sees nested modules and top-level ones
    names = pictured()
    assert "cli/options.py" in names
    assert "safetext.py" in names
    assert "commands/" in names and not any(n.startswith("commands/l") for n in names)
