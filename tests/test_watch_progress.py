"""``watch``'s polls read like ``list``: a poll of ``--all`` under the quota lasts minutes, so
it shows its progress as ``--progress`` says (the shared option): plain lines on stderr in
CI, nothing with ``none``, and over watch's own table on a terminal the table's last line,
never a second transient line on stderr fighting it. On the injected clock."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import pytest

from bulkctl.commands import watch as watch_cmd
from bulkctl.errors import UsageError
from bulkctl.lists.progress import CLEAR
from tests.conftest import InProcess, LinkedClock, ManualClock, StampedStream
from tests.test_progress_option import quota_bound

PAUSE = 3600.0  # --interval 1h: the first pause ends the test


class StopAtThePause(LinkedClock):
    """The command's clock: the quota's waits pass; watch's pause between polls is Ctrl-C."""

    def __init__(self, clock: ManualClock) -> None:
        super().__init__(clock)

    def sleep(self, seconds: float) -> None:
        if seconds >= PAUSE:
            raise KeyboardInterrupt
        super().sleep(seconds)


class Terminal(io.StringIO):
    """stdout that says it is a terminal, so rich draws every frame of the live table."""

    def isatty(self) -> bool:
        return True


def watch_one_poll(proc: InProcess, progress: str | None) -> None:
    assert isinstance(proc.ctx.clock, LinkedClock)
    proc.ctx.clock = StopAtThePause(proc.ctx.clock.clock)
    options = watch_cmd.parse(proc.ctx, interval="1h", all_records=True, progress=progress)
    try:
        with pytest.raises(KeyboardInterrupt):
            watch_cmd.run(proc.ctx, options)
    finally:
        proc.ctx.close()


def test_a_long_poll_in_ci_shows_plain_lines_with_an_eta(tmp_path: Path) -> None:
    proc = quota_bound(tmp_path, {"CI": "true"})  # 10 pages, 2 requests in 30 s
    watch_one_poll(proc, None)
    assert len(proc.out.splitlines()) == 1000  # a change line for every bulk
    assert isinstance(proc.ctx.stderr, StampedStream)
    shown = [(t, x) for t, x in proc.ctx.stderr.stamps if x.startswith("reading bulks: ")]
    assert len(shown) >= 5 and all(" of 10 pages (" in x and "ETA " in x for _, x in shown[1:])
    assert max(b - a for (a, _), (b, _) in itertools.pairwise(shown)) <= 10


def test_progress_none_keeps_a_long_poll_silent(tmp_path: Path) -> None:
    proc = quota_bound(tmp_path, {"CI": "true"})
    watch_one_poll(proc, "none")
    assert len(proc.out.splitlines()) == 1000
    assert "reading bulks" not in proc.err, proc.err


def test_over_the_table_the_progress_is_its_last_line_not_a_line_on_stderr(
    tmp_path: Path,
) -> None:
    proc = quota_bound(tmp_path, {}, tty=True)  # stderr on the terminal
    proc.ctx.stdout, proc.ctx.stdout_tty = Terminal(), True  # and watch's table
    watch_one_poll(proc, None)
    frames = proc.out.split("reading bulks: ")  # drawn as the table's last line
    assert len(frames) >= 5 and all(" of 10 pages (" in f for f in frames[2:]), proc.out[-500:]
    assert "ETA " in frames[-1] and "1000 bulks; Ctrl-C to stop" in frames[-1]
    assert "reading bulks" not in proc.err and CLEAR not in proc.err, proc.err


def test_progress_plain_over_the_table_writes_lines_on_stderr(tmp_path: Path) -> None:
    proc = quota_bound(tmp_path, {}, tty=True)
    proc.ctx.stdout_tty = True
    watch_one_poll(proc, "plain")
    lines = [x for x in proc.err.splitlines() if x.startswith("reading bulks: ")]
    assert len(lines) >= 5 and CLEAR not in proc.err, proc.err


def test_one_bulk_reads_no_pages_so_progress_is_refused(tmp_path: Path) -> None:
    proc = quota_bound(tmp_path, {})
    with pytest.raises(UsageError, match="--progress goes with watch without a BULK_ID"):
        watch_cmd.parse(proc.ctx, bulk_id="123", progress="plain")
    proc.ctx.close()
