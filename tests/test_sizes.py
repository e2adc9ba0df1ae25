"""Modules of one job: no module of ``bulkctl/`` over 500 lines, no function over 60 (counted
with ast: ``end_lineno - lineno + 1`` of each def, its docstring included)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "bulkctl"
MODULE_MAX = 500
FUNCTION_MAX = 60

# The files of the HTTP and pacing split (issue 21): these must hold the limits already.
SPLIT = (
    "__main__.py",
    "api/changes.py",
    "api/client.py",
    "api/records.py",
    "api/retry.py",
    "api/statuses.py",
    "api/transport.py",
    "api/wire.py",
    "cli/completion.py",
    "config.py",
    "config_file.py",
    "emulator/app.py",
    "emulator/auth.py",
    "emulator/messages.py",
    "pacing/learner.py",
    "pacing/pacer.py",
    "pacing/rates.py",
    "pacing/store.py",
)


def oversized(source: str, name: str) -> list[str]:
    """What in one module's ``source`` is over the limits, one line each."""
    found = []
    lines = len(source.splitlines())
    if lines > MODULE_MAX:
        found.append(f"{name}: {lines} lines")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > FUNCTION_MAX:
                found.append(f"{name}: {node.name} is {length} lines")
    return found


def offenders(paths: list[Path]) -> list[str]:
    return [
        line
        for path in paths
        for line in oversized(path.read_text(encoding="utf-8"), str(path.relative_to(PACKAGE)))
    ]


def test_the_count_takes_every_line_of_a_def_and_of_a_module() -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(58))
    at_limit = f'def f():\n    """Doc."""\n{body}\n'  # 60 lines with its docstring
    assert oversized(at_limit, "m.py") == []
    nested = f"class C:\n    async def g(self):\n        pass\n{body}\n        return 1\n"
    assert oversized(nested.replace("\n    x", "\n        x"), "m.py") == ["m.py: g is 61 lines"]
    assert oversized(at_limit + "\n" * 440, "m.py") == []  # 500 lines
    assert oversized(at_limit + "\n" * 441, "m.py") == ["m.py: 501 lines"]


def test_the_split_modules_hold_the_limits() -> None:
    paths = [PACKAGE / name for name in SPLIT]
    assert all(path.exists() for path in paths)
    assert offenders(paths) == []


def test_no_module_over_500_lines_and_no_function_over_60() -> None:
    assert offenders(sorted(PACKAGE.rglob("*.py"))) == []
