"""The console script leaves without the interpreter's teardown, once the command's output
is flushed and every atexit handler of the command has run; the exit code is the command's."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import logged_in, make_emulator, run_bulkctl
from tests.serving import serving

PROBE = """
import atexit, sys
import bulkctl.__main__ as entry

class Late:
    def __del__(self):
        sys.stderr.write("torn down\\n")

late = Late()  # a module global: the teardown would collect it and say so
command = entry.main

def main():
    atexit.register(lambda: sys.stderr.write("handler ran\\n"))  # as a command's library may
    command()

entry.main = main
sys.argv = ["bulkctl", *sys.argv[1:]]
entry.console()
"""


def probe(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=60
    )


def test_the_teardown_is_skipped_after_the_handlers_and_the_output() -> None:
    proc = probe("--profile", "demo", "list", "-n", "3", "--jsonl")
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == 3  # flushed before leaving
    assert "handler ran" in proc.stderr
    assert "torn down" not in proc.stderr


def test_the_exit_code_is_the_command_s() -> None:
    assert probe("--profile", "demo", "show", "123").returncode == 4  # not found
    assert probe("list", "--bogus").returncode == 2  # usage
    assert probe("--version").returncode == 0


def test_a_long_listing_into_a_pipe_arrives_whole() -> None:
    emulator, _ = make_emulator(bulks=2500)
    with serving(emulator) as root:
        result = run_bulkctl("list", "--all", "--jsonl", env=logged_in(root + "/multi"))
    assert result.code == 0, result.stderr
    assert len(result.stdout.splitlines()) == 2500
    assert result.stdout.endswith("}\n")


GC_PROBE = """
import gc, sys
import bulkctl.cli.invoke as invoking
import bulkctl.__main__ as entry

start = invoking.invoke

def invoke(typer_ctx, parse, run, **kwargs):
    def observed(ctx, options):
        collections = sum(s["collections"] for s in gc.get_stats()) - before
        sys.stderr.write(f"gc {gc.isenabled()} {gc.get_freeze_count() > 1000} {collections}\\n")
        return run(ctx, options)
    return start(typer_ctx, parse, observed, **kwargs)

invoking.invoke = invoke  # the command modules, loaded later, take this one
sys.argv = ["bulkctl", "--profile", "demo", "list", "-n", "3", "--jsonl"]
before = sum(s["collections"] for s in gc.get_stats())
entry.console()
"""


def test_the_collector_is_off_during_start_up_and_on_when_the_command_runs() -> None:
    """Start-up (typer, the command's modules) collects nothing; the command runs with the
    collector on, what start-up made frozen out of its scans (a watch runs for hours)."""
    proc = subprocess.run(
        [sys.executable, "-c", GC_PROBE], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == 3
    line = next(x for x in proc.stderr.splitlines() if x.startswith("gc "))
    assert line.split()[1:3] == ["True", "True"], line
    assert int(line.split()[3]) <= 3, line  # since console() began; without the pause: about ten


EARLY_CTRL_C = """
import sys
import bulkctl.__main__ as entry

class CtrlC:
    '''Ctrl-C pressed while typer loads, before the command's own handler is in place.'''
    def find_spec(self, name, path=None, target=None):
        if name == "typer":
            raise KeyboardInterrupt
        return None

sys.meta_path.insert(0, CtrlC())
sys.argv = ["bulkctl", "--profile", "demo", "list"]
entry.console()
"""


def test_a_ctrl_c_while_the_command_loads_is_one_line_and_exit_130() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", EARLY_CTRL_C], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 130, proc.stderr
    assert proc.stderr == "bulkctl: interrupted\n"
