"""The ui's model without Textual: the request budget on an injected clock, the action
rules, and safe text."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import pytest
from rich.text import Text

from bulkctl.actions import confirmation_text, refusal
from bulkctl.api.records import BULK_STATUSES, BulkOperation, BulkProcess, Page, parse_bulk
from bulkctl.context import Clock
from bulkctl.emulator.app import Emulator
from bulkctl.pacing.pacer import PaceUsage
from bulkctl.ui.backend import Backend, quota_words
from bulkctl.ui.board import (
    COUNTS_EVERY,
    DETAILS_CAP,
    FIRST_INTERVAL,
    LONGEST_INTERVAL,
    Board,
    age,
    group_failures,
)
from bulkctl.ui.safe import safe, safe_str
from tests.conftest import ManualClock, in_process, make_emulator


class FollowingClock(Clock):
    """The context's clock on the test's manual clock, so the shared pacer's minute passes
    with the emulator's."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock

    def now(self) -> float:
        return self.clock()

    def monotonic(self) -> float:
        return self.clock()

    def sleep(self, seconds: float) -> None:
        self.clock.advance(seconds)


def board_on_emulator(tmp_path: Path, bulks: int = 300) -> tuple[Board, Emulator, ManualClock]:
    emulator, clock = make_emulator(bulks=bulks)
    run = in_process(tmp_path, emulator, clock)
    run.ctx.clock = FollowingClock(clock)  # before the client (and its pacer) is built
    backend = Backend.from_context(run.ctx, now=clock, monotonic=clock)
    return Board(backend), emulator, clock


def test_twenty_idle_refreshes_stay_within_the_budget(tmp_path: Path) -> None:
    board, emulator, clock = board_on_emulator(tmp_path)
    started = clock()
    for _ in range(20):
        delay = board.refresh()
        clock.advance(delay)
    minutes = math.ceil((clock() - started) / COUNTS_EVERY)
    budget = 20 * (1 + DETAILS_CAP) + 7 * minutes
    sent = len(emulator.requests)
    assert sent <= budget
    assert board.interval == LONGEST_INTERVAL


def test_an_idle_ui_sends_at_most_20_requests_a_minute_over_minutes_2_to_11(
    tmp_path: Path,
) -> None:
    board, emulator, clock = board_on_emulator(tmp_path)
    start = clock()
    counted_from = None
    while clock() - start < 11 * 60:
        if counted_from is None and clock() - start >= 60:
            counted_from = len(emulator.requests)
        clock.advance(board.refresh())
    assert counted_from is not None
    assert (len(emulator.requests) - counted_from) / 10 <= 20


def test_a_refresh_reads_one_page_per_selected_status_and_counts_once_a_minute(
    tmp_path: Path,
) -> None:
    board, emulator, clock = board_on_emulator(tmp_path)
    board.toggle("FAILED")
    board.toggle("COMPLETED")
    assert board.selected == ["COMPLETED", "FAILED"]  # summary's order, whatever the key order
    board.refresh()
    lists = [url for _, url in emulator.requests if url.startswith("/multi/bulks?")]
    pages = ["COMPLETED", "FAILED"]  # then each count, read with the bulks it counts named
    assert sorted(lists) == sorted(
        f"/multi/bulks?limit=100&status={s}" for s in [*pages, *BULK_STATUSES]
    )
    assert {b.status for b in board.rows} == {"COMPLETED", "FAILED"}
    before = len(emulator.requests)
    clock.advance(10)
    board.refresh()
    assert len(emulator.requests) - before == 2  # no counts, no details: none RUNNING
    assert board.interval == 2 * FIRST_INTERVAL


def test_details_are_read_for_at_most_five_visible_running_or_paused_rows(
    tmp_path: Path,
) -> None:
    board, _, _ = board_on_emulator(tmp_path)
    board.toggle("RUNNING")
    board.toggle("PAUSED")
    board.apply_rows(board.read_rows())
    visible = [b.bulk_id for b in board.rows if b.bulk_id]
    assert len(visible) > DETAILS_CAP
    wanted = board.wanted_details(visible)
    assert len(wanted) == DETAILS_CAP
    extras = board.read_extras(visible)
    assert set(extras.details) == set(wanted)
    board.apply_extras(extras)
    assert board.outcome(board.rows[0]) is not None
    assert board.outcome(next(b for b in board.rows if b.bulk_id not in wanted)) is None


def test_pages_past_the_first_are_read_when_asked_then_by_every_refresh(tmp_path: Path) -> None:
    board, emulator, clock = board_on_emulator(tmp_path)
    board.toggle("COMPLETED")
    board.refresh()
    assert len(board.rows) == 100 and board.total() == 172 and board.has_more()
    before = len(emulator.requests)
    assert board.apply_more(board.read_more()) == 72
    assert len(emulator.requests) - before == 1  # one page, at offset 100
    assert not board.has_more() and board.read_more().pages == {}
    completed = [i for i in emulator.state.order if emulator.state.bulks[i].status == "COMPLETED"]
    assert [b.bulk_id for b in board.rows] == completed  # all 172 reachable, newest first
    before = len(emulator.requests)
    clock.advance(10)
    board.refresh()
    assert [url for _, url in list(emulator.requests)[before:]] == [
        "/multi/bulks?limit=100&status=COMPLETED",
        "/multi/bulks?limit=100&offset=100&status=COMPLETED",
    ]  # both loaded pages, nothing else: no details (none RUNNING), no counts (not due)
    assert len(board.rows) == 172
    board.toggle("FAILED")  # other statuses: the pages past the first go
    board.refresh()
    assert len(board.rows) == 100 + 33 and board.total() == 172 + 33


def test_a_row_past_the_first_100_is_read_again_within_the_same_requests_a_minute(
    tmp_path: Path,
) -> None:
    """After `n`, a change to a row past the first page shows at the next refresh; the
    intervals stretch with the pages read, so no more requests a minute are sent."""
    board, emulator, clock = board_on_emulator(tmp_path)
    emulator.state.insert_submitted(clock(), 120)  # the seeded bulks past 100 are all final
    board.refresh()
    board.apply_more(board.read_more())
    assert len(board.rows) == 200
    later = next(b for b in board.rows[100:] if b.status == "SUBMITTED")
    clock.advance(board.finish())
    emulator.state.act(later.bulk_id or "", "execute", clock(), "ON_FAILURE_STOP")
    before = len(emulator.requests)
    delay = board.refresh()
    lists = [url for _, url in list(emulator.requests)[before:] if "/bulks?" in url]
    assert lists == ["/multi/bulks?limit=100", "/multi/bulks?limit=100&offset=100"]
    assert next(b for b in board.rows if b.key == later.key).status == "RUNNING"
    assert board.marked(later.key) and delay == 2 * FIRST_INTERVAL  # two pages: twice as long
    assert board.counts["RUNNING"] == sum(
        b.status == "RUNNING" for b in emulator.state.bulks.values()
    )
    start, sent = clock(), len(emulator.requests)
    while clock() - start < 10 * 60:  # idle, two pages loaded: within the one-page budget
        clock.advance(board.refresh())
    assert (len(emulator.requests) - sent) / 10 <= 20
    assert board.interval == 2 * LONGEST_INTERVAL


def test_a_page_read_with_n_during_a_refresh_stays(tmp_path: Path) -> None:
    board, _, _ = board_on_emulator(tmp_path)
    board.refresh()
    listing = board.read_rows()  # a refresh in flight: one page to read again
    assert board.apply_more(board.read_more()) == 100  # meanwhile, `n`
    board.apply_rows(listing)
    assert len(board.rows) == 200 and len({b.key for b in board.rows}) == 200


def test_the_counts_follow_the_rows_between_readings(tmp_path: Path) -> None:
    """A selected status is counted by its own listing, and a status change seen in the rows
    moves one from the old status to the new: the header never says PAUSED 4 above five."""
    board, emulator, clock = board_on_emulator(tmp_path)
    board.refresh()
    running = next(b for b in board.rows if b.status == "RUNNING")
    paused = board.counts["PAUSED"] or 0
    emulator.state.act(running.bulk_id or "", "pause", clock(), None)
    clock.advance(5)
    before = len(emulator.requests)
    board.refresh()
    assert len(emulator.requests) - before <= 1 + DETAILS_CAP  # no counts read for it
    assert board.counts["PAUSED"] == paused + 1 and board.counts["RUNNING"] == 10 - 1
    emulator.state.act(running.bulk_id or "", "resume", clock(), None)
    board.toggle("PAUSED")
    board.refresh()
    assert board.counts["PAUSED"] == len(board.rows) == paused


def header_and_table(board: Board) -> tuple[dict[str, int | None], dict[str, int]]:
    """The header's counts, and the table's rows counted by status (every bulk loaded)."""
    table = Counter(b.status or "" for b in board.rows)
    return {s: board.counts.get(s) for s in BULK_STATUSES}, {s: table[s] for s in BULK_STATUSES}


@pytest.mark.parametrize("between", ["SUBMITTED", "PAUSED"])
def test_a_change_between_the_rows_and_the_counts_is_counted_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, between: str
) -> None:
    """A bulk paused after the rows were read, before (or while) the counts are: the header
    says what the table says, in that refresh and the next, never counting it twice."""
    board, emulator, clock = board_on_emulator(tmp_path, bulks=60)  # all loaded: the table
    board.refresh()
    running = next(b for b in board.rows if b.status == "RUNNING")
    clock.advance(COUNTS_EVERY)
    count = board.backend.count

    def pause_then_count(status: str, *named: int) -> Page:
        if status == between:  # before every count is read, or after RUNNING's was
            emulator.state.act(running.bulk_id or "", "pause", clock())
        return count(status, *named)

    monkeypatch.setattr(board.backend, "count", pause_then_count)
    board.refresh()
    header, table = header_and_table(board)
    assert table["PAUSED"] == sum(b.status == "PAUSED" for b in board.rows)
    assert header == table  # the row still shows RUNNING: so does the header
    clock.advance(5)
    before = len(emulator.requests)
    board.refresh()
    assert len(emulator.requests) - before <= 1 + DETAILS_CAP  # no counts read: derived
    header, table = header_and_table(board)
    assert next(b for b in board.rows if b.key == running.key).status == "PAUSED"
    assert header == table  # paused in the rows now: counted once, as PAUSED
    truth = Counter(b.status for b in emulator.state.bulks.values())
    assert header == {s: truth[s] for s in BULK_STATUSES}


def test_the_order_is_age_status_or_progress(tmp_path: Path) -> None:
    board, _, _ = board_on_emulator(tmp_path)
    board.refresh()
    assert board.shown() == board.rows
    assert board.next_sort() == "status"
    order = [BULK_STATUSES.index(b.status or "") for b in board.shown()]
    assert order == sorted(order) and len(set(order)) > 2
    assert board.next_sort() == "progress"
    shown = board.shown()
    read = [b for b in shown if board.outcome(b) is not None]
    assert read and shown[: len(read)] == read  # rows whose progress is known come first
    outcomes = [o for o in map(board.outcome, read) if o is not None]
    done = [o.ended / (o.total or 1) for o in outcomes]
    assert done == sorted(done, reverse=True)
    assert board.next_sort() == "age"


def test_a_status_change_marks_the_row_and_resets_the_interval(tmp_path: Path) -> None:
    board, emulator, clock = board_on_emulator(tmp_path)
    board.refresh()
    clock.advance(5)
    board.refresh()
    assert board.interval == 2 * FIRST_INTERVAL
    submitted = next(b for b in board.rows if b.status == "SUBMITTED")
    emulator.state.act(submitted.bulk_id or "", "execute", clock(), "ON_FAILURE_STOP")
    board.refresh()
    assert board.interval == FIRST_INTERVAL
    assert board.marked(submitted.key)
    clock.advance(10)
    assert not board.marked(submitted.key)


def test_the_operation_filter_applies_to_loaded_rows_only(tmp_path: Path) -> None:
    board, emulator, _ = board_on_emulator(tmp_path)
    board.refresh()
    board.interval = LONGEST_INTERVAL
    sent = len(emulator.requests)
    board.set_operation("SENDS")
    assert board.interval == FIRST_INTERVAL
    assert board.shown() and all("sends" in (b.operation or "") for b in board.shown())
    assert len(emulator.requests) == sent


def bulk(status: str, failed: int = 0, **extra: object) -> BulkProcess:
    return parse_bulk(
        {
            "bulkId": "42",
            "status": status,
            "submittedItemsCount": 1200,
            "operation": "/transfers",
            "mode": "ON_FAILURE_STOP",
            "operationStatusCounts": [{"status": "FAILED", "count": failed}],
            **extra,
        }
    )


@pytest.mark.parametrize(
    ("action", "status", "allowed"),
    [
        ("execute", "SUBMITTED", True),
        ("execute", "RUNNING", False),
        ("pause", "RUNNING", True),
        ("pause", "PAUSED", False),
        ("resume", "PAUSED", True),
        ("resume", "COMPLETED", False),
        ("cancel", "RUNNING", True),
        ("cancel", "PAUSED", True),
        ("cancel", "SUBMITTED", False),
    ],
)
def test_each_action_is_allowed_only_in_its_statuses(
    action: str, status: str, allowed: bool
) -> None:
    reason = refusal(action, bulk(status))
    assert (reason is None) == allowed
    if not allowed:
        assert reason is not None and f"bulk 42 is {status}; only" in reason


def test_rerun_needs_a_final_bulk_with_failures() -> None:
    assert refusal("rerun", bulk("FAILED", failed=3)) is None
    assert "no FAILED" in (refusal("rerun", bulk("COMPLETED")) or "")
    assert "final" in (refusal("rerun", bulk("RUNNING", failed=3)) or "")


def test_a_confirmation_names_where_what_how_many_and_the_mode() -> None:
    where = "PRODUCTION (api.weavr.io, profile live)"
    text = confirmation_text("execute", "42", bulk("SUBMITTED"), where, "ON_FAILURE_CONTINUE")
    assert text == (
        "execute bulk 42 on PRODUCTION (api.weavr.io, profile live): "
        "1,200 × /transfers, ON_FAILURE_CONTINUE?"
    )
    cancel = confirmation_text("cancel", "42", bulk("RUNNING"), where)
    assert cancel.endswith("1,200 × /transfers, now RUNNING? This cannot be undone.")
    pause = confirmation_text("pause", "42", bulk("RUNNING"), where)
    assert pause.endswith("1,200 × /transfers, now RUNNING?")


def test_the_idle_ui_reads_the_shared_pacer_for_its_footer(tmp_path: Path) -> None:
    board, emulator, clock = board_on_emulator(tmp_path)
    board.refresh()
    sent = len(emulator.requests)
    assert sent > 7  # a page, details, and the counts
    assert board.backend.quota_text() == f"paced: {sent} of 100 this minute"
    clock.advance(61)
    assert board.backend.quota_text() == "paced: 0 of 100 this minute"
    assert quota_words(PaceUsage(started=3, limit=None, seconds=60)) == "unpaced"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("[/]", "[/]"),
        ("[@click=app.quit]x", "[@click=app.quit]x"),
        ("a\x1b[31mred", "a\\x1b[31mred"),
        ("bell\x07 del\x7f c1\x9b", "bell\\x07 del\\x7f c1\\x9b"),
        ("line\nbreak\ttab", "line\\x0abreak\\x09tab"),
    ],
)
def test_safe_escapes_controls_and_never_makes_markup(raw: str, shown: str) -> None:
    assert safe_str(raw) == shown
    text = safe(raw)
    assert isinstance(text, Text) and text.plain == shown and not text.spans


def test_failures_are_grouped_by_the_error_code_in_the_response_payload() -> None:
    def failed(payload: str | None) -> BulkOperation:
        return BulkOperation({}, None, 1, "POST", "/x", "FAILED", None, payload)

    groups = group_failures(
        [
            failed('{"errorCode": "FUNDS_INSUFFICIENT"}'),
            failed('{"errorCode": "FUNDS_INSUFFICIENT"}'),
            failed('{"message": "no code"}'),
            failed("not json"),
        ]
    )
    assert groups == [("FUNDS_INSUFFICIENT", 2), ("(no JSON)", 1), ("(none)", 1)]


@pytest.mark.parametrize(
    ("seconds", "shown"), [(5, "5s"), (125, "2m"), (3 * 3600, "3h"), (4 * 86400, "4d")]
)
def test_age_is_one_short_unit(seconds: int, shown: str) -> None:
    assert age(1_000_000, 1_000 + seconds) == shown
    assert age(None, 0) == "-"
