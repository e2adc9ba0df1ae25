"""The lazy registry: every command file is registered with the first paragraph of its
docstring, has the one shape (parse, run, command), and only the command run is imported."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import json
import re
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


# -- hints name registered commands --------------------------------------------------------------

PACKAGE = COMMANDS_DIR.parent
GLOBAL_VALUED = {"--profile", "--base-url"}  # the root options that take a value
NAMED_IN_TEXT = re.compile(r"(?:^|[:(`]\s*|\b(?:try|run|Try)\s+)bulkctl\s+([^`)\n]*)")


def placeholder(word: str) -> bool:
    """A word that stands for words (WORDS, X, [--profile P]), in docs of the machinery."""
    return word.isupper() or word.startswith("[") or word.startswith("--help")


def command_path(words: list[str]) -> str | None:
    """The registered command (or group) that ``words``, what follows ``bulkctl``, name;
    "" when they name none but stand for words; None when the name is not registered."""
    while words and words[0].startswith("-") and not placeholder(words[0]):
        words = words[2:] if words[0] in GLOBAL_VALUED else words[1:]
    if not words or placeholder(words[0]):
        return ""
    entry = COMMANDS.get(words[0])
    if isinstance(entry, LazyGroup) and len(words) > 1 and not placeholder(words[1]):
        return f"{words[0]} {words[1]}" if words[1] in entry.entries else None
    return words[0] if entry is not None else None


def text_of(node: ast.expr) -> str | None:
    """A string literal's text; an f-string's with each value as X."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(text_of(v) or "X" for v in node.values)
    return None


def leading_words(args: list[ast.expr]) -> list[str]:
    """The literal words a call starts with, up to the first value only known at run time."""
    words: list[str] = []
    for arg in args:
        if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
            break
        words.append(arg.value)
    return words


def named_commands(source: str) -> list[list[str]]:
    """Every command a piece of the package names, as the words after ``bulkctl``: hints
    built from parts (``suggest=(...)``, ``.suggest(...)``, ``suggested_command``,
    ``plain_command``, ``Resolved.command("...")``), a wait's ``command=`` and every
    ``bulkctl WORDS`` written in text after a colon, a parenthesis or a backquote."""
    found: list[list[str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.keyword) and node.arg == "suggest":
            if isinstance(node.value, ast.Tuple):
                found.append(leading_words(node.value.elts))
        elif isinstance(node, ast.keyword) and node.arg == "command":
            text = text_of(node.value)
            if text is not None:
                found.append(text.split())
        elif isinstance(node, ast.Call):
            name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
            if name in ("suggest", "plain_command"):
                found.append(leading_words(node.args))
            elif name == "suggested_command":
                found.append(leading_words(node.args[1:]))
            elif name == "command" and node.args and text_of(node.args[0]) is not None:
                found.append((text_of(node.args[0]) or "").split())
        text = text_of(node) if isinstance(node, ast.expr) else None
        if text:
            found += [match.split() for match in NAMED_IN_TEXT.findall(text)]
    return [words for words in found if words]


def package_hints() -> dict[str, list[list[str]]]:
    sources = (p for p in PACKAGE.rglob("*.py") if "emulator" not in p.parts[-2:-1])
    return {str(p.relative_to(PACKAGE)): named_commands(p.read_text("utf-8")) for p in sources}


def test_every_hint_names_a_registered_command() -> None:
    unknown = [
        f"{path}: bulkctl {' '.join(words)}"
        for path, hints in package_hints().items()
        for words in hints
        if command_path(words) is None
    ]
    assert unknown == []


def test_the_hint_scan_finds_hints_and_a_misnamed_one() -> None:
    hints = package_hints()
    assert ["auth", "login"] in hints[str(Path("api") / "statuses.py")]
    assert any(words[:1] == ["execute"] for words in hints[str(Path("actions") / "sending.py")])
    planted = 'raise UsageError("no token", suggest=("auth", "logon"))\nx = ctx.suggest("lst")\n'
    assert [command_path(w) for w in named_commands(planted)] == [None, None]
    assert command_path(["--profile", "ops", "config", "reset-limits"]) == "config reset-limits"


def test_the_table_of_questions_names_registered_commands() -> None:
    from bulkctl.actions.rules import ACTIONS, QUESTIONS

    for row in QUESTIONS:
        for named in re.findall(r"(?<!ui )`([^`]+)`", row.asked_by):
            if not named.startswith("--"):
                assert command_path(named.split()) is not None, row
    assert all(command_path([action]) == action for action in ACTIONS)
