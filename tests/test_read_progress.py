"""A long read shows its progress on stderr (issue 22): pages read, the total and an ETA,
a plain line at least every 10 s in a pipe or CI, through the client's waits for the quota,
on the injected clock; a short read shows nothing; on a terminal the line is transient."""

from __future__ import annotations

import itertools
from pathlib import Path

from bulkctl.cli.options import PagingFlags
from bulkctl.commands import list as list_cmd
from bulkctl.emulator.app import Emulator, Faults
from bulkctl.emulator.quota import parse_quota
from bulkctl.lists.progress import CLEAR, ReadProgress
from tests.conftest import LinkedClock, ManualClock, StampedStream, in_process, make_emulator


def list_all(
    tmp_path: Path, quota: str | None, env: dict[str, str]
) -> tuple[StampedStream, float, str]:
    faults = Faults(quota=parse_quota(quota), quota_headers=True) if quota else None
    emulator, clock = make_emulator(bulks=1000, faults=faults)
    proc = in_process(tmp_path, emulator, clock, env={"BULKCTL_QUOTA_WAIT": "900", **env})
    proc.ctx.clock = LinkedClock(clock)
    stderr = StampedStream(clock)
    proc.ctx.stderr = stderr
    start = clock()
    try:
        options = list_cmd.parse(proc.ctx, paging=PagingFlags(all_records=True))
        assert list_cmd.run(proc.ctx, options) == 0
    finally:
        proc.ctx.close()
    stdout = proc.ctx.stdout.getvalue()  # type: ignore[attr-defined]
    return stderr, clock() - start, stdout


def test_a_listing_held_back_by_the_quota_shows_progress_with_an_eta_every_10s(
    tmp_path: Path,
) -> None:
    # 1,000 bulks are 10 pages; the API admits 2 requests in 30 s: the read takes minutes
    stderr, took, stdout = list_all(tmp_path, "2/30s", {"CI": "true"})
    assert took > 60, took
    assert len(stdout.splitlines()) == 1001  # header and every bulk
    shown = [(t, text) for t, text in stderr.stamps if text.startswith("reading bulks: ")]
    assert shown, stderr.getvalue()
    assert all(" of 10 pages (" in text and "ETA " in text for _, text in shown[1:])
    times = [t for t, _ in shown]
    assert times[0] - (times[0] - took) <= took  # sanity: stamps are on the test's clock
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert max(gaps) <= 10, gaps
    assert shown[-1][1].startswith("reading bulks: ") and "ETA" in shown[-1][1]


def test_a_short_read_shows_nothing(tmp_path: Path) -> None:
    stderr, took, _ = list_all(tmp_path, None, {"CI": "true"})
    assert took < 2
    assert "reading bulks" not in stderr.getvalue()


def test_on_a_terminal_the_line_is_drawn_over_and_cleared_before_the_rows(
    tmp_path: Path,
) -> None:
    emulator, clock = make_emulator(bulks=10)
    proc = in_process(tmp_path, emulator, clock)
    proc.ctx.clock = LinkedClock(clock)
    proc.ctx.stderr_tty = True
    proc.ctx.env = {**proc.ctx.env, "COLUMNS": "80"}
    progress = ReadProgress(proc.ctx, "bulks", "live")
    clock.advance(3)
    progress.tick()  # no page yet: a first request's retries speak for themselves
    assert proc.ctx.stderr.getvalue() == ""  # type: ignore[attr-defined]
    clock.advance(8)
    progress.tick()
    clock.advance(1)
    progress.tick()
    text = proc.ctx.stderr.getvalue()  # type: ignore[attr-defined]
    assert text.count(CLEAR + "reading bulks: 0 pages (0), ") == 2 and "\n" not in text
    assert text.endswith(", waiting for the first page")
    progress.clear()
    assert proc.ctx.stderr.getvalue().endswith(CLEAR)  # type: ignore[attr-defined]


def failed_bulk(quota: str) -> tuple[Emulator, ManualClock, str]:
    """An emulator admitting ``quota``, with a bulk of 1,000 operations, all FAILED."""
    faults = Faults(quota=parse_quota(quota), quota_headers=True)
    emulator, clock = make_emulator(bulks=300, faults=faults)
    state = emulator.state
    bulk_id = state.insert_submitted(clock(), 1)[0]
    bulk = state.bulks[bulk_id]
    bulk.items, bulk.operation = 1000, "/transfers"
    bulk.pace, bulk.fail_rate, bulk._fails = 1000.0, 1.0, list(range(1000))
    state.act(bulk_id, "execute", clock(), "ON_FAILURE_CONTINUE")
    clock.advance(60)  # every operation has run, and failed
    return emulator, clock, bulk_id


def test_operations_errors_under_the_quota_shows_progress(tmp_path: Path) -> None:
    from bulkctl.commands.bulk import operations as operations_cmd

    emulator, clock, bulk_id = failed_bulk("2/30s")
    proc = in_process(tmp_path, emulator, clock, env={"BULKCTL_QUOTA_WAIT": "900", "CI": "1"})
    proc.ctx.clock = LinkedClock(clock)
    stderr = StampedStream(clock)
    proc.ctx.stderr = stderr
    try:
        options = operations_cmd.parse(proc.ctx, bulk_id=bulk_id, errors=True)
        assert operations_cmd.run(proc.ctx, options) == 0, stderr.getvalue()
    finally:
        proc.ctx.close()
    shown = [(t, x) for t, x in stderr.stamps if x.startswith("reading failed operations: ")]
    assert len(shown) >= 5 and all("ETA " in text for _, text in shown), shown
    assert max(b - a for (a, _), (b, _) in itertools.pairwise(shown)) <= 10


def test_reading_the_operations_to_rerun_under_the_quota_shows_progress(tmp_path: Path) -> None:
    from bulkctl.commands.bulk import rerun as rerun_cmd

    emulator, clock, bulk_id = failed_bulk("2/30s")
    proc = in_process(tmp_path, emulator, clock, env={"BULKCTL_QUOTA_WAIT": "900", "CI": "1"})
    proc.ctx.clock = LinkedClock(clock)
    stderr = StampedStream(clock)
    proc.ctx.stderr = stderr
    out = tmp_path / "items.jsonl"
    try:
        flags = rerun_cmd.RerunFlags(failed=True, output_file=out)
        options = rerun_cmd.parse(proc.ctx, bulk_id=bulk_id, which=flags)
        assert rerun_cmd.run(proc.ctx, options) == 0, stderr.getvalue()
    finally:
        proc.ctx.close()
    assert len(out.read_text().splitlines()) == 1000
    shown = [text for _, text in stderr.stamps if text.startswith("reading operations to rerun: ")]
    assert shown and all(" of 10 pages (" in text and "ETA " in text for text in shown), shown


def test_the_total_is_what_the_read_takes_not_what_the_api_holds(tmp_path: Path) -> None:
    from bulkctl.api.records import Page

    emulator, clock = make_emulator(bulks=10)
    proc = in_process(tmp_path, emulator, clock, env={"CI": "1"})
    proc.ctx.clock = LinkedClock(clock)
    progress = ReadProgress(proc.ctx, "bulks", "plain")
    progress.bound(0, 150)  # list -n 150 of 1,000
    fetch = progress.counted(lambda offset, limit: Page([{}] * limit, 1000, 1000, 1000))
    fetch(0, 100)
    clock.advance(4)
    assert progress.line(clock()) == ("reading bulks: 1 of 2 pages (100 of 150), 4s so far, ETA 4s")
    progress.bound(900, None)  # --offset 900 --all
    assert progress.total_pages() == 1 and progress.total_records() == 100


def eta_seconds(text: str) -> int:
    """'ETA 1m 05s' -> 65 (human_duration read back)."""
    words = text.rsplit("ETA ", 1)[1].split()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    return sum(int(word[:-1]) * units[word[-1]] for word in words)


WINDOW = 10.0  # the quota's window below: one step of the pacer


def test_the_eta_under_the_rate_limit_is_never_short_of_the_time_left(tmp_path: Path) -> None:
    """30 pages under 4 requests in 10 s: the first four go at once, then the pacer holds
    each batch a window. The ETA follows the quota, not the first pages' pace (which said
    13 s with 68 s to go), early and late in the read."""
    emulator, clock = make_emulator(bulks=3000)
    env = {"CI": "1", "BULKCTL_RATE_LIMIT": "4/10s", "BULKCTL_CONCURRENCY": "1"}
    proc = in_process(tmp_path, emulator, clock, env=env)
    proc.ctx.clock = LinkedClock(clock)
    stderr = StampedStream(clock)
    proc.ctx.stderr = stderr
    try:
        options = list_cmd.parse(proc.ctx, paging=PagingFlags(all_records=True))
        assert list_cmd.run(proc.ctx, options) == 0
    finally:
        proc.ctx.close()
    end = clock()
    shown = [(t, x) for t, x in stderr.stamps if x.startswith("reading bulks: ") and "ETA" in x]
    pages = [int(x.split()[2]) for _, x in shown]
    assert min(pages) <= 8 and max(pages) >= 24, shown  # early and late in the read
    for t, text in shown:
        left = end - t
        assert left - WINDOW <= eta_seconds(text) <= left + WINDOW, (left, text)


def test_the_eta_counts_other_processes_requests_in_the_shared_record(tmp_path: Path) -> None:
    from bulkctl.api.records import Page
    from bulkctl.pacing.pacer import Pacer, parse_rate_limit, state_file

    emulator, clock = make_emulator(bulks=10)
    env = {"CI": "1", "BULKCTL_RATE_LIMIT": "4/10s"}
    proc = in_process(tmp_path, emulator, clock, env=env)
    proc.ctx.clock = LinkedClock(clock)
    client = proc.ctx.client()  # the command's client, its pacer on the shared state file
    path = state_file(proc.ctx.state_dir, client.base_url, client.api_key)
    other = Pacer(parse_rate_limit("4/10s"), clock=LinkedClock(clock), path=path)
    progress = ReadProgress(proc.ctx, "bulks", "plain")
    fetch = progress.counted(lambda offset, limit: Page([{}] * limit, 1000, 1000, 1000))
    fetch(0, 100)
    clock.advance(1)
    # nine pages left, 1 s a page so far (9 s at that pace); the quota lets four start now,
    # four 10 s later and the last just past 20 s from now (each a millisecond past its turn)
    assert progress.line(clock()).endswith("1s so far, ETA 21s")
    for _ in range(4):  # another bulkctl process fills the window
        other.acquire(0)
    # the window is full: four start 10 s from now, four 20 s and the last 30 s from now
    assert progress.line(clock()).endswith("1s so far, ETA 31s")
    other.close()
    proc.ctx.close()
