"""The lazy registry: every command file is registered with the first paragraph of its
docstring, has the one shape (parse, run, command), and only the command run is imported."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bulkctl import demo
from bulkctl.cli.app import COMMANDS, Lazy, LazyGroup, root_command
from bulkctl.emulator import app as emulator_app

COMMANDS_DIR = Path(__file__).resolve().parent.parent / "bulkctl" / "commands"


def registered() -> dict[str, Lazy]:
    """Every lazy entry, by its command path."""
    found: dict[str, Lazy] = {}
    for name, entry in COMMANDS.items():
        if isinstance(entry, Lazy):
            found[name] = entry
        else:
            assert isinstance(entry, LazyGroup)
            for sub, lazy in entry.entries.items():
                assert isinstance(lazy, Lazy)
                found[f"{name} {sub}"] = lazy
    return found


def first_paragraph(text: str) -> str:
    return " ".join(text.split("\n\n")[0].split())


@pytest.mark.parametrize("path", sorted(registered()))
def test_the_registered_help_is_the_commands_docstring(path: str) -> None:
    entry = registered()[path]
    module = importlib.import_module(entry.module)
    assert entry.help == first_paragraph(inspect.getdoc(module.command) or "")


@pytest.mark.parametrize("path", sorted(registered()))
def test_every_command_has_the_one_shape(path: str) -> None:
    module = importlib.import_module(registered()[path].module)
    run = inspect.signature(module.run)
    assert list(run.parameters)[:2] == ["ctx", "options"]
    assert next(iter(inspect.signature(module.parse).parameters)) == "ctx"
    options = run.parameters["options"].annotation
    assert dataclasses.is_dataclass(getattr(module, options))


def test_every_command_file_is_registered() -> None:
    files = {
        ".".join(("bulkctl", *p.relative_to(COMMANDS_DIR.parent).with_suffix("").parts))
        for p in COMMANDS_DIR.rglob("*.py")
        if p.name != "__init__.py"
    }
    assert files == {entry.module for entry in registered().values()}


def test_the_generators_see_every_command() -> None:
    root = root_command()
    group = root.get_command(None, "auth")
    assert set(group.list_commands(None)) == {"login", "status", "logout", "token"}
    assert set(root.load_all(None)) == set(COMMANDS)


PROBE = """
import json, sys
sys.argv = ["bulkctl", *json.loads(sys.argv[1])]
from bulkctl.__main__ import main
try:
    main()
except SystemExit:
    pass
print(json.dumps(sorted(m for m in sys.modules if m.startswith("bulkctl.commands."))), file=sys.stderr)
"""


@pytest.mark.parametrize(
    ("args", "imported"),
    [
        (["--help"], []),
        (["auth", "--help"], []),
        (["list", "--help"], ["bulkctl.commands.list"]),
        (["auth", "login", "--help"], ["bulkctl.commands.auth", "bulkctl.commands.auth.login"]),
        (["show", "--help"], ["bulkctl.commands.bulk", "bulkctl.commands.bulk.show"]),
    ],
    ids=["root help", "auth help", "list help", "auth login help", "show help"],
)
def test_only_the_command_run_is_imported(args: list[str], imported: list[str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args)], capture_output=True, text=True, timeout=60
    )
    assert json.loads(proc.stderr.strip().splitlines()[-1]) == imported


def test_the_demo_wiring_and_the_emulator_agree_on_the_demo_credentials() -> None:
    assert (demo.DEMO_API_KEY, demo.DEMO_TOKEN) == (
        emulator_app.DEMO_API_KEY,
        emulator_app.DEMO_TOKEN,
    )
