"""A SIGTERM while ``bulkctl wait --junit`` starts (its commands being imported, its options
being read) still writes the report: the real process, the real signal, sent by the process
to itself at a named point of its start-up, so the window is the same on every run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Served
from tests.junit_schema import valid_report

# The entry point, with a SIGTERM sent at one point of the start-up: ``import`` (when the
# command registry is imported) or ``parse`` (while wait reads its options).
STARTER = """
import importlib.abc, os, signal, sys
point = sys.argv.pop(1)

def term():
    os.kill(os.getpid(), signal.SIGTERM)

class OnImport(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if point == "import" and name == "bulkctl.cli.app":
            term()
        return None

sys.meta_path.insert(0, OnImport())
if point == "parse":
    import bulkctl.commands.wait as wait
    real = wait.parse
    def parse(*args, **kwargs):
        term()
        return real(*args, **kwargs)
    wait.parse = parse
from bulkctl.__main__ import main
main(sys.argv[1:])
"""


def start_terminated(
    point: str, *args: str, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", STARTER, point, *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=dict(os.environ, **env),
        timeout=60,
    )


@pytest.mark.parametrize("point", ["import", "parse"])
def test_a_sigterm_while_wait_starts_exits_143_with_a_report(
    served: Served, tmp_path: Path, point: str
) -> None:
    bulk_id = served.state.listing("COMPLETED")[0]
    report = tmp_path / "term.xml"
    result = start_terminated(point, "wait", bulk_id, "--junit", str(report), env=served.env())
    assert result.returncode == 143, result.stderr
    assert "terminated" in result.stderr and "Traceback" not in result.stderr
    assert report.exists(), "no report for a SIGTERM after the path was checked"
    errors = list(valid_report(report).iter("error"))
    assert errors and errors[-1].get("type") == "terminated"
    assert served.emulator.request_count == 0  # stopped before its first request


def test_a_sigterm_while_another_command_starts_exits_143(served: Served) -> None:
    result = start_terminated("import", "list", env=served.env())
    assert result.returncode == 143, result.stderr
    assert "terminated" in result.stderr
    assert served.emulator.request_count == 0  # held only until the command runs
