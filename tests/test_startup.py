"""Start-up stays light: help and version import neither httpx, nor rich, nor the emulator."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("httpx", "httpcore", "rich", "bulkctl.emulator", "filelock", "platformdirs", "textual")

PROBE = f"""
import json, sys
sys.argv = ["bulkctl", *json.loads(sys.argv[1])]
from bulkctl.__main__ import main
try:
    main()
except SystemExit:
    pass
heavy = sorted(m for m in sys.modules if m.startswith({HEAVY!r}))
print(json.dumps(heavy), file=sys.stderr)
"""

COMMANDS = [
    ["--version"],
    ["--help"],
    ["list", "--help"],
    ["show", "--help"],
    ["operations", "--help"],
    ["execute", "--help"],
    ["wait", "--help"],
    ["watch", "--help"],
    ["summary", "--help"],
    ["auth", "--help"],
    ["auth", "login", "--help"],
    ["config", "--help"],
    ["emulator", "serve", "--help"],
    ["ui", "--help"],
]


def imported_after(args: list[str]) -> list[str]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stderr.strip().splitlines()[-1])
    assert isinstance(result, list)
    return result


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_help_and_version_import_nothing_heavy(args: list[str]) -> None:
    assert imported_after(args) == []


def test_the_probe_would_see_httpx_when_a_command_runs() -> None:
    assert "httpx" in imported_after(["--profile", "demo", "list", "-n", "1"])


def test_version_needs_no_typer() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; sys.argv=['bulkctl','--version']\nfrom bulkctl.__main__ import main\n"
            "try: main()\nexcept SystemExit: pass\nprint('typer' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.stdout.split() == ["bulkctl", __import__("bulkctl").__version__, "False"]
