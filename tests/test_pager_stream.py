"""The pager streams: once the output fills the screen the pager starts and every later
write reaches it at once, so a long read shows as it comes; quitting the pager (q) stops
the read there, exit 0; no transient progress is drawn over the pager's screen."""

from __future__ import annotations

import io
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bulkctl.context import Context
from bulkctl.errors import Terminated
from bulkctl.lists.progress import ReadProgress
from bulkctl.output.pager import paged
from tests.conftest import LinkedClock, ManualClock, logged_in, make_emulator
from tests.serving import bulkctl_command, serving

# a pager that copies each line it reads to a file at once
COPY_LINES = (
    "import sys\n"
    "with open(sys.argv[1], 'w') as out:\n"
    "    for line in sys.stdin:\n"
    "        out.write(line)\n"
    "        out.flush()\n"
)


def soon(condition: Callable[[], bool], within: float = 20.0) -> bool:
    """Whether ``condition`` holds within ``within`` seconds (polled; no time is asserted)."""
    end = time.monotonic() + within
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def terminal_context(tmp_path: Path, pager: list[str]) -> Context:
    """A Context whose stdout and stdin are terminals of 5 rows and 80 columns, paging
    through ``pager``."""
    return Context(
        stdout=io.StringIO(),
        stderr=io.StringIO(),
        stdin=io.StringIO(),
        env={"PAGER": shlex.join(pager), "LINES": "5", "COLUMNS": "80"},
        config_dir=tmp_path,
        state_dir=tmp_path,
        stdout_tty=True,
        stdin_tty=True,
        stderr_tty=True,
    )


def test_output_reaches_the_pager_while_the_command_still_writes(tmp_path: Path) -> None:
    record = tmp_path / "paged.txt"
    ctx = terminal_context(tmp_path, [sys.executable, "-c", COPY_LINES, str(record)])
    terminal = ctx.stdout
    rows = [f"row {i}\n" for i in range(8)]
    with paged(ctx):
        for row in rows[:6]:  # more than the 5 rows of the screen
            ctx.stdout.write(row)
        ctx.stdout.flush()
        # the command has not ended, and the first rows are already in the pager
        assert soon(lambda: record.exists() and "row 5" in record.read_text())
        assert ctx.paging  # progress keeps off the pager's screen meanwhile
        for row in rows[6:]:
            ctx.stdout.write(row)
    assert record.read_text() == "".join(rows)
    assert terminal.getvalue() == ""  # type: ignore[attr-defined]  # nothing twice
    assert not ctx.paging


def test_output_shorter_than_the_screen_is_written_as_it_is(tmp_path: Path) -> None:
    record = tmp_path / "paged.txt"
    ctx = terminal_context(tmp_path, [sys.executable, "-c", COPY_LINES, str(record)])
    terminal = ctx.stdout
    with paged(ctx):
        ctx.stdout.write("one\ntwo\n")
    assert terminal.getvalue() == "one\ntwo\n"  # type: ignore[attr-defined]
    assert not record.exists()  # no pager was started


def test_no_progress_line_is_drawn_while_the_pager_shows(tmp_path: Path) -> None:
    ctx = terminal_context(tmp_path, ["true"])
    clock = ManualClock()
    ctx.clock = LinkedClock(clock)
    ctx.paging = True
    progress = ReadProgress(ctx, "bulks", "live")
    progress.pages = 3
    clock.advance(60)  # long past the 2 s before a line shows
    assert progress.tick() is None
    assert ctx.stderr.getvalue() == ""  # type: ignore[attr-defined]
    ctx.paging = False
    progress.tick()
    assert "reading bulks: 3 pages" in ctx.stderr.getvalue()  # type: ignore[attr-defined]


@pytest.mark.skipif(shutil.which("script") is None, reason="needs script(1)")
def test_quitting_the_pager_stops_the_read_there_and_exits_0(tmp_path: Path) -> None:
    """A listing of 60 pages into a pager that reads one line and leaves: the command stops
    once the pipe is full instead of reading every page, exit 0, no traceback."""
    emulator, _ = make_emulator(bulks=6000)
    record = tmp_path / "first.txt"
    pager = shlex.join(["sh", "-c", f"head -n 1 > {shlex.quote(str(record))}"])
    with serving(emulator) as root:
        env = {**os.environ, **logged_in(root + "/multi"), "PAGER": pager, "BULKCTL_PAGER": pager}
        env.pop("CI", None)
        command = shlex.join(
            [*bulkctl_command(), "list", "--all", "-o", "plain", "--concurrency", "1"]
        )
        proc = subprocess.run(
            ["script", "-qec", f"stty cols 200 rows 24; {command}", "/dev/null"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=120,
            env=env,
        )
        listings = [path for _, path in emulator.requests if "/bulks?" in path]
    text = (proc.stdout + proc.stderr).decode()
    assert proc.returncode == 0, text
    assert "Traceback" not in text and "BrokenPipe" not in text
    assert record.read_text().startswith("bulkId")  # the pager did get the header
    assert 1 <= len(listings) < 30, len(listings)  # 60 pages were there to read


def copying_pager(tmp_path: Path) -> tuple[list[str], Path]:
    record = tmp_path / "paged.txt"
    return [sys.executable, "-c", COPY_LINES, str(record)], record


def test_notes_made_while_the_pager_shows_come_after_it(tmp_path: Path) -> None:
    """A retry's note during a paged read would land in the middle of the pager's screen."""
    pager, record = copying_pager(tmp_path)
    ctx = terminal_context(tmp_path, pager)
    stderr = ctx.stderr
    with paged(ctx):
        ctx.note("before the pager")
        for i in range(6):
            ctx.stdout.write(f"row {i}\n")
        ctx.stdout.flush()
        assert soon(lambda: record.exists() and "row 5" in record.read_text())
        ctx.note("HTTP 503; retrying in 1.0s")
        assert "retrying" not in stderr.getvalue()  # type: ignore[attr-defined]
    said = stderr.getvalue()  # type: ignore[attr-defined]
    assert "before the pager" in said and said.rstrip().endswith("HTTP 503; retrying in 1.0s")


def test_lines_that_wrap_past_the_screen_are_paged(tmp_path: Path) -> None:
    pager, record = copying_pager(tmp_path)
    ctx = terminal_context(tmp_path, pager)
    terminal = ctx.stdout
    rows = ["x" * 200 + "\n", "y" * 200 + "\n"]  # two lines, six rows at 80 columns
    with paged(ctx):
        for row in rows:
            ctx.stdout.write(row)
    assert record.read_text() == "".join(rows)
    assert terminal.getvalue() == ""  # type: ignore[attr-defined]


@pytest.mark.timeout(30)
def test_a_sigterm_during_a_paged_read_ends_the_pager_at_once(tmp_path: Path) -> None:
    """The pager never reads and never leaves; a SIGTERM (Terminated) must not wait for it."""
    ctx = terminal_context(tmp_path, [sys.executable, "-c", "import time; time.sleep(120)"])
    started: list[subprocess.Popen[bytes]] = []
    with pytest.raises(Terminated), paged(ctx):
        for i in range(6):
            ctx.stdout.write(f"row {i}\n")
        started.append(ctx.stdout.pager)  # type: ignore[attr-defined]
        raise Terminated
    assert started[0].poll() is not None  # ended, not left behind
    assert not ctx.paging


@pytest.mark.skipif(shutil.which("script") is None, reason="needs script(1)")
def test_a_sigterm_while_the_pager_shows_exits_143(tmp_path: Path) -> None:
    """The read is over and the pager shows it: a SIGTERM ends both, exit 143, said."""
    pidfile = tmp_path / "pid"
    pager = shlex.join(["sh", "-c", "sleep 120"])  # reads nothing, leaves only when ended
    command = shlex.join([*bulkctl_command(), "--profile", "demo", "list", "--all", "-o", "plain"])
    line = f"stty cols 80 rows 24; sh -c 'echo $$ > {shlex.quote(str(pidfile))}; exec {command}'"
    env = {**os.environ, "PAGER": pager, "BULKCTL_PAGER": pager}
    env.pop("CI", None)
    with subprocess.Popen(
        ["script", "-qec", line, "/dev/null"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    ) as proc:
        assert soon(lambda: pidfile.exists() and pidfile.read_text().strip().isdigit())
        pid = int(pidfile.read_text())
        # the listing is written into the pipe (it fits), then bulkctl waits for the pager
        assert soon(lambda: _waits_for_a_child(pid))
        os.kill(pid, signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 143, out.decode()
    assert b"bulkctl: terminated" in out
    assert b"Traceback" not in out


def _waits_for_a_child(pid: int) -> bool:
    """Whether process ``pid`` has a child (its pager) and sleeps waiting for it."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        return bool(children.read_text().split())
    except OSError:
        return False
