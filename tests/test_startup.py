"""Start-up stays light: help and version import neither httpx, nor rich, nor the emulator.

Each command is probed in a fresh interpreter. One probe process imports typer, then forks a
child per command before anything of bulkctl (or anything heavy) is imported, so every child
starts from a clean ``sys.modules`` as a new process would, without paying each time for a new
interpreter and for typer."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = (
    "httpx",
    "httpcore",
    "rich",
    "bulkctl.emulator",
    "filelock",
    "platformdirs",
    "textual",
    "jsonschema",  # only a submission's check builds a validator
    "redis",  # only a configured rate_limit_store connects
)

PROBE = f"""
import json, sys
sys.argv = ["bulkctl", *json.loads(sys.argv[1])]
from bulkctl.__main__ import main
try:
    main()
except SystemExit:
    pass
heavy = sorted(m for m, v in sys.modules.items() if v and m.startswith({HEAVY!r}))
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
    ["submit", "--help"],
]
PROBED_RUN = ["--profile", "demo", "list", "-n", "1"]  # a command that does import httpx


FORKING_PROBE = f"""
import json, os, sys, traceback
import typer  # shared by every child; were it to bring in a heavy module, every probe would fail
assert not [m for m in sys.modules if m.startswith(("bulkctl", *{HEAVY!r}))]
found = {{}}
for args in json.loads(sys.argv[1]):
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a clean interpreter as far as bulkctl is concerned
        os.close(read_end)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        sys.argv = ["bulkctl", *args]
        report = {{}}
        try:
            from bulkctl.__main__ import main
            try:
                main()
            except SystemExit:
                pass
            report["heavy"] = sorted(
                m for m, v in sys.modules.items() if v and m.startswith({HEAVY!r})
            )
        except BaseException:
            report["error"] = traceback.format_exc()
        os.write(write_end, json.dumps(report).encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        answer = pipe.read()
    _, status = os.waitpid(pid, 0)
    found[" ".join(args)] = json.loads(answer) if status == 0 and answer else {{"error": status}}
print(json.dumps(found))
"""


@pytest.fixture(scope="module")
def probed() -> dict[str, dict[str, object]]:
    """What each of COMMANDS and PROBED_RUN imported, from one forking probe."""
    proc = subprocess.run(
        [sys.executable, "-c", FORKING_PROBE, json.dumps([*COMMANDS, PROBED_RUN])],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert isinstance(result, dict)
    return result


def heavy_after(probed: dict[str, dict[str, object]], args: list[str]) -> object:
    report = probed[" ".join(args)]
    assert "error" not in report, report["error"]
    return report["heavy"]


def imported_after(args: list[str]) -> list[str]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stderr.strip().splitlines()[-1])
    assert isinstance(result, list)
    return result


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_help_and_version_import_nothing_heavy(
    probed: dict[str, dict[str, object]], args: list[str]
) -> None:
    assert heavy_after(probed, args) == []


def test_the_probe_would_see_httpx_when_a_command_runs(
    probed: dict[str, dict[str, object]],
) -> None:
    heavy = heavy_after(probed, PROBED_RUN)
    assert isinstance(heavy, list) and "httpx" in heavy
    assert "jsonschema" not in heavy  # list checks no submission
    assert "httpx" in imported_after(PROBED_RUN)  # and so would the one-process probe


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


MODULES_PROBE = """
import json, sys
sys.argv = ["bulkctl", *json.loads(sys.argv[1])]
from bulkctl.__main__ import main
try:
    main()
except SystemExit:
    pass
print(json.dumps(sorted(m for m, v in sys.modules.items() if v)), file=sys.stderr)  # loaded
"""

# what a listing does not need unless its format, its config file or a prompt asks for it
ON_DEMAND = {"tomllib", "tomli_w", "csv", "getpass", "termios"}


def modules_after(args: list[str]) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-c", MODULES_PROBE, json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return set(json.loads(proc.stderr.strip().splitlines()[-1]))


def test_a_listing_without_a_config_file_imports_no_toml_csv_or_prompt() -> None:
    found = modules_after(["--profile", "demo", "list", "-n", "1", "--jsonl"])
    assert "httpx" in found  # it did run the listing
    assert found.isdisjoint(ON_DEMAND), sorted(found & ON_DEMAND)


def test_a_json_lines_listing_loads_neither_httpx_s_own_cli_nor_rich() -> None:
    """httpx imports its command-line client (click, rich, pygments) when they are installed;
    bulkctl never runs it, and a listing that draws no table needs no rich either."""
    found = modules_after(["--profile", "demo", "list", "-n", "1", "--jsonl"])
    assert "httpx" in found
    loaded = sorted(m for m in found if m.partition(".")[0] in ("click", "pygments", "rich"))
    assert loaded == []
    assert "httpx._main" not in found


def test_the_csv_format_and_a_config_file_do_import_what_they_need() -> None:
    assert "csv" in modules_after(["--profile", "demo", "list", "-n", "1", "-o", "csv"])
    set_key = ["--profile", "work", "config", "set", "retries", "3"]
    subprocess.run([sys.executable, "-m", "bulkctl", *set_key], check=True, capture_output=True)
    assert "tomllib" in modules_after(["--profile", "work", "config", "get", "retries"])
