"""--since / --until boundaries to the millisecond: --since is inclusive, --until exclusive;
--operation and --mode compare text as it reads, without zero-width or bidi characters."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bulkctl.api.records import parse_bulk
from bulkctl.lists.filters import BulkFilter

EDGE_MS = 1_795_000_000_123  # a moment with a millisecond part
EDGE_ISO = "2026-11-18T11:06:40.123Z"


def finished_at(ms: int) -> dict[str, object]:
    return {
        "bulkId": str(ms),
        "status": "COMPLETED",
        "executionStart": ms - 5000,
        "executionFinish": ms,
    }


def test_the_edge_moment_parses_to_its_exact_millisecond() -> None:
    assert datetime.fromtimestamp(EDGE_MS / 1000, UTC).isoformat(timespec="milliseconds") == (
        EDGE_ISO.replace("Z", "+00:00")
    )
    parsed = BulkFilter.parse(since=EDGE_ISO, until=EDGE_ISO, now=0.0)
    assert parsed.since_ms == EDGE_MS
    assert parsed.until_ms == EDGE_MS


@pytest.mark.parametrize(
    ("offset_ms", "kept"),
    [(-1, False), (0, True), (1, True)],
    ids=["1ms before --since is left out", "exactly at --since is kept", "1ms after is kept"],
)
def test_since_is_inclusive_to_the_millisecond(offset_ms: int, kept: bool) -> None:
    since = BulkFilter.parse(since=EDGE_ISO, now=0.0)
    assert since.matches(parse_bulk(finished_at(EDGE_MS + offset_ms))) is kept


@pytest.mark.parametrize(
    ("offset_ms", "kept"),
    [(-1, True), (0, False), (1, False)],
    ids=["1ms before --until is kept", "exactly at --until is left out", "1ms after is left out"],
)
def test_until_is_exclusive_to_the_millisecond(offset_ms: int, kept: bool) -> None:
    until = BulkFilter.parse(until=EDGE_ISO, now=0.0)
    assert until.matches(parse_bulk(finished_at(EDGE_MS + offset_ms))) is kept


def test_a_window_of_one_millisecond_keeps_exactly_that_millisecond() -> None:
    window = BulkFilter(since_ms=EDGE_MS, until_ms=EDGE_MS + 1)
    kept = [d for d in (-1, 0, 1) if window.matches(parse_bulk(finished_at(EDGE_MS + d)))]
    assert kept == [0]


def test_the_boundary_applies_to_the_start_when_there_is_no_finish() -> None:
    running = {"bulkId": "1", "status": "RUNNING", "executionStart": EDGE_MS}
    assert BulkFilter(since_ms=EDGE_MS).matches(parse_bulk(running))
    assert not BulkFilter(since_ms=EDGE_MS + 1).matches(parse_bulk(running))
    assert not BulkFilter(until_ms=EDGE_MS).matches(parse_bulk(running))
    assert not BulkFilter(since_ms=0).matches(parse_bulk({"bulkId": "2", "status": "SUBMITTED"}))


def test_an_age_counts_back_from_now() -> None:
    now = EDGE_MS / 1000 + 7200
    assert BulkFilter.parse(since="2h", now=now).since_ms == EDGE_MS


@pytest.mark.parametrize(
    "operation",
    ["/tr\u200bansfers", "/trans\u2060fers", "\ufeff/transfers", "/tran\u200dsfers\u202c"],
    ids=["zero width space", "word joiner", "byte order mark", "joiner and bidi pop"],
)
def test_a_hidden_character_does_not_slip_past_the_operation_filter(operation: str) -> None:
    bulk = parse_bulk({"bulkId": "1", "status": "RUNNING", "operation": operation})
    assert BulkFilter.parse(operation="/transfers", now=0.0).matches(bulk)
    assert BulkFilter.parse(operation="/trans*", now=0.0).matches(bulk)
    assert not BulkFilter.parse(operation="/sends", now=0.0).matches(bulk)


def test_a_hidden_character_does_not_slip_past_the_mode_filter() -> None:
    bulk = parse_bulk({"bulkId": "1", "status": "RUNNING", "mode": "ON_FAILURE\u200b_STOP"})
    assert BulkFilter.parse(mode="on-failure-stop", now=0.0).matches(bulk)
