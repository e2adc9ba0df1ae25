"""--progress live|plain|none, declared once (``ProgressOption``) and taken by every command
that reads long: list (a fleet too), operations, summary, rerun and watch; it chooses how
``read_progress`` draws, whatever the terminal or CI say."""

from __future__ import annotations

from pathlib import Path

import pytest

from bulkctl.cli.options import FleetFlags, PagingFlags
from bulkctl.commands import list as list_cmd
from bulkctl.commands import summary as summary_cmd
from bulkctl.commands.bulk import operations as operations_cmd
from bulkctl.commands.bulk import rerun as rerun_cmd
from bulkctl.emulator.app import Faults
from bulkctl.emulator.quota import parse_quota
from bulkctl.lists.progress import CLEAR
from tests.conftest import InProcess, LinkedClock, in_process, make_emulator, run_bulkctl
from tests.test_read_progress import StampedStream, failed_bulk
from tests.test_shared_options import described, params

READERS = [["list"], ["operations"], ["summary"], ["rerun"], ["watch"]]


def test_progress_is_one_option_in_every_command_that_reads_long() -> None:
    seen = [params(*path)["progress"] for path in READERS]
    assert all(described(p) == described(seen[0]) for p in seen)
    assert "live" in (seen[0].help or "") and "plain" in (seen[0].help or "")


def quota_bound(tmp_path: Path, env: dict[str, str], *, tty: bool = False) -> InProcess:
    """1,000 bulks behind a quota of 2 requests in 30 s: a read of minutes."""
    faults = Faults(quota=parse_quota("2/30s"), quota_headers=True)
    emulator, clock = make_emulator(bulks=1000, faults=faults)
    proc = in_process(tmp_path, emulator, clock, env={"BULKCTL_QUOTA_WAIT": "900", **env})
    proc.ctx.clock = LinkedClock(clock)
    proc.ctx.stderr = StampedStream(clock)
    proc.ctx.stderr_tty = tty
    proc.ctx.env = {**proc.ctx.env, "COLUMNS": "100"}
    return proc


def list_all(proc: InProcess, progress: str | None) -> str:
    try:
        options = list_cmd.parse(proc.ctx, paging=PagingFlags(all_records=True), progress=progress)
        assert list_cmd.run(proc.ctx, options) == 0
    finally:
        proc.ctx.close()
    return proc.err


def test_list_progress_none_is_silent_even_with_ci_set(tmp_path: Path) -> None:
    err = list_all(quota_bound(tmp_path, {"CI": "true"}), "none")
    assert "reading bulks" not in err, err


def test_list_progress_plain_on_a_terminal_writes_lines_not_the_transient_one(
    tmp_path: Path,
) -> None:
    err = list_all(quota_bound(tmp_path, {}, tty=True), "PLAIN")  # any case
    lines = [line for line in err.splitlines() if line.startswith("reading bulks: ")]
    assert len(lines) >= 5 and all("ETA " in line for line in lines[1:]), err
    assert CLEAR not in err


def test_list_progress_live_in_a_pipe_with_ci_draws_the_transient_line(tmp_path: Path) -> None:
    err = list_all(quota_bound(tmp_path, {"CI": "true"}), "live")
    assert CLEAR + "reading bulks: " in err and err.endswith(CLEAR), err[-300:]


def test_operations_errors_progress_none_is_silent(tmp_path: Path) -> None:
    emulator, clock, bulk_id = failed_bulk("2/30s")
    proc = in_process(tmp_path, emulator, clock, env={"BULKCTL_QUOTA_WAIT": "900", "CI": "1"})
    proc.ctx.clock = LinkedClock(clock)
    try:
        options = operations_cmd.parse(proc.ctx, bulk_id=bulk_id, errors=True, progress="none")
        assert operations_cmd.run(proc.ctx, options) == 0, proc.err
    finally:
        proc.ctx.close()
    assert "FUNDS_INSUFFICIENT" in proc.out  # the groups, read in silence
    assert "reading failed operations" not in proc.err, proc.err


def test_rerun_progress_plain_on_a_terminal_writes_lines(tmp_path: Path) -> None:
    emulator, clock, bulk_id = failed_bulk("2/30s")
    proc = in_process(tmp_path, emulator, clock, env={"BULKCTL_QUOTA_WAIT": "900"})
    proc.ctx.clock = LinkedClock(clock)
    proc.ctx.stderr_tty = True
    out = tmp_path / "items.jsonl"
    try:
        flags = rerun_cmd.RerunFlags(failed=True, output_file=str(out), progress="plain")
        options = rerun_cmd.parse(proc.ctx, bulk_id=bulk_id, which=flags)
        assert rerun_cmd.run(proc.ctx, options) == 0, proc.err
    finally:
        proc.ctx.close()
    lines = [x for x in proc.err.splitlines() if x.startswith("reading operations to rerun: ")]
    assert lines and CLEAR not in proc.err, proc.err


def test_summary_with_a_filter_shows_the_progress_it_is_asked_for(tmp_path: Path) -> None:
    proc = quota_bound(tmp_path, {})
    try:
        options = summary_cmd.parse(
            proc.ctx, status=["completed"], operation="/transfers", progress="plain"
        )
        assert summary_cmd.run(proc.ctx, options) == 0, proc.err
    finally:
        proc.ctx.close()
    lines = [x for x in proc.err.splitlines() if x.startswith("reading COMPLETED bulks: ")]
    assert lines and all("pages" in x for x in lines), proc.err


def test_a_fleet_of_identities_with_progress_none_on_a_terminal_says_nothing(
    tmp_path: Path,
) -> None:
    from tests.test_fleet_gaps import identities_context

    ctx = identities_context(tmp_path, 40)
    ctx.stderr_tty = True
    try:
        options = list_cmd.parse(
            ctx, fleet=FleetFlags(identities="corporate:1001,consumer:2001"), progress="none"
        )
        assert list_cmd.run(ctx, options) == 0
    finally:
        ctx.close()
    assert "reading identities" not in ctx.stderr.getvalue()  # type: ignore[attr-defined]


@pytest.mark.parametrize("command", [["list"], ["operations", "123"], ["summary"]])
def test_an_unknown_progress_mode_is_a_usage_error_naming_the_choices(
    command: list[str],
) -> None:
    result = run_bulkctl(*command, "--progress", "loud")
    assert result.code == 2, result.stderr
    assert "unknown --progress 'loud'" in result.stderr
    assert "live, plain, none" in result.stderr


@pytest.mark.parametrize(
    ("progress", "tty", "env", "lines"),
    [
        ("plain", True, {}, True),  # on a terminal the wait would draw its live table
        ("none", False, {"CI": "1"}, False),  # with CI set it would write plain lines
    ],
)
def test_rerun_wait_shows_the_wait_as_progress_says(
    tmp_path: Path, progress: str, tty: bool, env: dict[str, str], lines: bool
) -> None:
    from bulkctl.cli.options import SendFlags

    emulator, clock, bulk_id = failed_bulk("1000/1s")
    proc = in_process(tmp_path, emulator, clock, env={"BULKCTL_QUOTA_WAIT": "900", **env})
    proc.ctx.clock = LinkedClock(clock)
    proc.ctx.stderr_tty = tty
    proc.ctx.env = {**proc.ctx.env, "COLUMNS": "100"}
    try:
        flags = rerun_cmd.RerunFlags(failed=True, progress=progress)
        send = SendFlags(execute=True, yes=True, wait=True)
        options = rerun_cmd.parse(proc.ctx, bulk_id=bulk_id, which=flags, send=send)
        code = rerun_cmd.run(proc.ctx, options)
    finally:
        proc.ctx.close()
    new_bulk = proc.out.split()[-1]
    assert new_bulk != bulk_id and code == 0, proc.err
    waits = [
        x
        for x in proc.err.splitlines()
        if x.startswith((f"bulk {new_bulk}: RUNNING", f"bulk {new_bulk}: COMPLETED"))
        or x.startswith("still waiting after ")  # the heartbeat
    ]
    assert bool(waits) == lines, proc.err
    assert CLEAR not in proc.err and "\x1b[" not in proc.err, proc.err[-300:]  # no live table
