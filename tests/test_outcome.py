"""The stacked progress bar: cells by outcome, the words beside it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bulkctl.api.records import parse_bulk
from bulkctl.output.outcome import Outcome, outcome_bar, outcome_of, outcome_words, segments


def test_an_all_failed_bulk_has_no_completed_cells() -> None:
    cells = dict(segments(Outcome(completed=0, failed=75, cancelled=0, total=75), 40))
    assert cells == {"completed": 0, "failed": 40, "cancelled": 0, "left": 0}


def test_one_failure_among_thousands_still_shows() -> None:
    cells = dict(segments(Outcome(completed=9999, failed=1, cancelled=0, total=10000), 40))
    assert cells["failed"] == 1
    assert cells["completed"] == 39


def test_the_words_say_what_the_colours_say() -> None:
    assert outcome_words(Outcome(284, 85, 0, 369)) == "284 done · 85 failed · 0 left"
    assert outcome_words(Outcome(1, 0, 2, None)) == "1 done · 0 failed · 2 cancelled · ? left"


def test_the_bar_colours_by_outcome() -> None:
    text = outcome_bar(Outcome(completed=10, failed=10, cancelled=0, total=40), 8)
    styles = [str(span.style) for span in text.spans]
    assert styles == ["green", "red", "dim"]
    assert text.plain == "██▓▓····"


def test_outcome_of_reads_the_counts_and_the_total() -> None:
    bulk = parse_bulk(
        {
            "bulkId": "1",
            "status": "PARTIALLY_COMPLETED",
            "submittedItemsCount": 5,
            "operationStatusCounts": [
                {"status": "COMPLETED", "count": 3},
                {"status": "FAILED", "count": 1},
                {"status": "CANCELLED", "count": 1},
            ],
        }
    )
    assert outcome_of(bulk) == Outcome(completed=3, failed=1, cancelled=1, total=5)


@given(
    st.integers(0, 10**6),
    st.integers(0, 10**6),
    st.integers(0, 10**6),
    st.one_of(st.none(), st.integers(0, 3 * 10**6)),
    st.integers(1, 120),
)
def test_segments_always_fill_the_width_and_never_draw_a_zero(
    completed: int, failed: int, cancelled: int, total: int | None, width: int
) -> None:
    outcome = Outcome(completed, failed, cancelled, total)
    cells = dict(segments(outcome, width))
    assert sum(cells.values()) == width
    for name, count in (("completed", completed), ("failed", failed), ("cancelled", cancelled)):
        if count == 0:
            assert cells[name] == 0


def test_the_line_keeps_the_words_whole_and_gives_way_with_the_bar() -> None:
    from bulkctl.output.outcome import outcome_line

    outcome = Outcome(completed=284, failed=85, cancelled=0, total=369)
    for width in (20, 40, 60, 80, 120):
        line = outcome_line(outcome, width)
        assert line.plain.endswith("284 done · 85 failed · 0 left")
        assert line.cell_len <= max(width, len("284 done · 85 failed · 0 left"))
    assert (
        outcome_line(Outcome(1, 0, 0, None), 80).plain
        == "1 done · 0 failed · ? left (total unknown)"
    )


def test_rate_and_eta_come_from_the_start_the_clock_and_the_counts() -> None:
    from bulkctl.output.outcome import rate_and_eta

    started_ms = 1_800_000_000_000
    now = started_ms / 1000 + 100  # 100 s in, 250 ended, 750 left: 2.5/s, 300 s to go
    outcome = Outcome(completed=200, failed=50, cancelled=0, total=1000)
    assert rate_and_eta(outcome, started_ms, now) == "2.5 operations/s · about 5m 00s left"
    slow = Outcome(completed=3, failed=0, cancelled=0, total=10)  # 3 in 100 s: 1.8/min
    assert rate_and_eta(slow, started_ms, now) == "1.8 operations/min · about 3m 53s left"
    assert rate_and_eta(Outcome(0, 0, 0, 10), started_ms, now) is not None
    assert "ETA" in (rate_and_eta(Outcome(0, 0, 0, 10), started_ms, now) or "")
    assert rate_and_eta(outcome, None, now) is None
