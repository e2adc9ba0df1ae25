"""The pager, on a real pseudo-terminal: long output of show, operations and list --all goes
through $PAGER (here a script that records what it reads), never in a pipe, with CI, with
--no-input or --no-pager, or with stdin not a terminal; q in less exits 0, and a pager that
leaves early is no traceback."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import bulkctl_command

pytestmark = pytest.mark.skipif(shutil.which("script") is None, reason="needs script(1)")


def recorder(tmp_path: Path) -> tuple[str, Path]:
    """A PAGER that writes what it reads to a file, and the file."""
    record = tmp_path / "paged.txt"
    return shlex.join(["sh", "-c", f"cat > {shlex.quote(str(record))}"]), record


def in_pty(
    *args: str, env: dict[str, str], rows: int = 24, after: str = ""
) -> subprocess.CompletedProcess[bytes]:
    """``bulkctl --profile demo ARGS`` on an 80x``rows`` terminal (stdin and stdout the pty);
    ``after`` goes after the command in the shell line (a pipe, a redirection)."""
    command = shlex.join([*bulkctl_command(), "--profile", "demo", *args]) + after
    return subprocess.run(
        ["script", "-qec", f"stty cols 80 rows {rows}; {command}", "/dev/null"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=120,
        env={**os.environ, **env},
    )


def failed_bulk() -> str:
    proc = in_pty("list", "-s", "failed", "-n", "1", "-o", "plain", "--no-header", env={})
    return proc.stdout.decode().split()[0]


def test_show_longer_than_the_screen_goes_through_the_pager(tmp_path: Path) -> None:
    pager, record = recorder(tmp_path)
    bulk_id = failed_bulk()
    proc = in_pty("show", bulk_id, env={"PAGER": pager})
    assert proc.returncode == 0
    paged = record.read_text()
    assert f"bulk id    {bulk_id}" in re.sub("\x1b\\[[0-9;]*m", "", paged)
    assert "\x1b[31m" in paged  # the colours go to the pager (less -R shows them)
    assert bulk_id not in proc.stdout.decode()  # not written twice


def test_bulkctl_pager_wins_over_pager(tmp_path: Path) -> None:
    pager, record = recorder(tmp_path)
    proc = in_pty("show", failed_bulk(), env={"BULKCTL_PAGER": pager, "PAGER": "false"})
    assert proc.returncode == 0 and record.exists()


def test_operations_and_list_all_go_through_the_pager(tmp_path: Path) -> None:
    pager, record = recorder(tmp_path)
    proc = in_pty("list", "--all", env={"PAGER": pager})
    assert proc.returncode == 0
    assert len(record.read_text().splitlines()) > 300  # the header and every bulk
    record.unlink()
    proc = in_pty("operations", failed_bulk(), "-n", "30", env={"PAGER": pager})
    assert proc.returncode == 0 and len(record.read_text().splitlines()) == 31


def test_output_that_fits_the_screen_is_not_paged(tmp_path: Path) -> None:
    pager, record = recorder(tmp_path)
    proc = in_pty("show", failed_bulk(), env={"PAGER": pager}, rows=60)
    assert proc.returncode == 0 and not record.exists()
    assert "failed operations by errorCode" in proc.stdout.decode()
    in_pty("list", "-n", "5", env={"PAGER": pager})  # list pages only with --all
    assert not record.exists()


@pytest.mark.parametrize(
    ("args", "env", "after"),
    [
        (("--no-pager",), {}, ""),
        (("--no-input",), {}, ""),
        ((), {"CI": "true"}, ""),
        ((), {}, " | cat"),  # a pipe
        ((), {}, " < /dev/null"),  # stdin is no terminal: no keys to read
    ],
    ids=["no-pager", "no-input", "ci", "pipe", "stdin"],
)
def test_never_paged(
    tmp_path: Path, args: tuple[str, ...], env: dict[str, str], after: str
) -> None:
    pager, record = recorder(tmp_path)
    proc = in_pty(*args, "list", "--all", env={"PAGER": pager, **env}, after=after)
    assert proc.returncode == 0
    assert not record.exists()
    assert len(proc.stdout.decode().splitlines()) > 300


def test_no_pager_after_the_command_too(tmp_path: Path) -> None:
    pager, record = recorder(tmp_path)
    proc = in_pty("show", failed_bulk(), "--no-pager", env={"PAGER": pager})
    assert proc.returncode == 0 and not record.exists()


@pytest.mark.parametrize("pager", ["true", "false"])
def test_a_pager_that_leaves_early_is_no_error(pager: str) -> None:
    """The pager reads nothing and exits (``false`` with status 1): the output (far more
    than a pipe holds) meets a closed pipe; the command still exits 0, with no traceback."""
    listed = in_pty("list", "-s", "completed", "-n", "50", "-o", "plain", env={}).stdout.decode()
    big = next(
        line.split()[0] for line in listed.splitlines()[1:] if int(line.split("\t")[3]) > 2000
    )
    proc = in_pty("operations", big, "--all", "-o", "wide", env={"PAGER": pager})
    assert len(proc.stdout) < 10_000  # the operations went to the pager (and no further)
    text = (proc.stdout + proc.stderr).decode()
    assert proc.returncode == 0, text
    assert "Traceback" not in text and "BrokenPipe" not in text


@pytest.mark.skipif(shutil.which("less") is None, reason="needs less")
def test_q_in_less_exits_0() -> None:
    import pexpect

    command = bulkctl_command()
    env = {k: v for k, v in os.environ.items() if k not in ("PAGER", "LESS")}
    child = pexpect.spawn(
        command[0],
        [*command[1:], "--profile", "demo", "list", "--all"],
        env={**env, "TERM": "xterm"},
        dimensions=(24, 80),
        timeout=60,
    )
    child.expect("BULK ID")  # type: ignore[attr-defined]
    child.expect(":")  # type: ignore[attr-defined]  # less's prompt: a screen, not the end
    child.send("q")  # type: ignore[attr-defined]
    child.expect(pexpect.EOF)  # type: ignore[attr-defined]
    child.close()  # type: ignore[attr-defined]
    assert child.exitstatus == 0  # type: ignore[attr-defined]
    assert b"Traceback" not in child.before  # type: ignore[attr-defined]
