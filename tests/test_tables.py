"""Tables that fit: every table keeps one line per row at its terminal width, whole ids and
statuses, no trailing spaces, awkward data included (long paths, 20-digit ids, wide chars)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from rich.cells import cell_len

from bulkctl.output.render import (
    BULK_TABLE_FIELDS,
    FAILURE_FIELDS,
    OPERATION_ALL_FIELDS,
    OPERATION_FIELDS,
    Field,
    RenderOptions,
    column_widths,
    cut_to,
    render,
    short_age,
    table_lines,
    terminal_width,
)
from bulkctl.output.tables import STATUS_SHORT

NOW = 1_800_000_000.0
NOW_MS = int(NOW * 1000)
WIDTHS = [60, 80, 100, 120, 200]

BULKS: list[dict[str, Any]] = [
    {
        "bulkId": "12345678901234567890",
        "status": "PARTIALLY_COMPLETED",
        "operation": "/managed_accounts/{id}/iban/" + "very-long-segment/" * 8,
        "submittedItemsCount": 10_000_000,
        "mode": "ON_FAILURE_CONTINUE",
        "executionStart": NOW_MS - 3 * 86400_000,
        "executionFinish": NOW_MS - 2 * 86400_000,
    },
    {
        "bulkId": "1100000000295353",
        "status": "RUNNING",
        "operation": "/转账/账户/{id}/支付 — 中文路径很长很长很长很长很长很长很长很长",
        "submittedItemsCount": 4,
        "mode": "ON_FAILURE_STOP",
        "executionStart": NOW_MS - 45_000,
    },
    {"bulkId": "7", "status": "SUBMITTED", "operation": "/sends", "submittedItemsCount": 1},
]
OPERATIONS: list[dict[str, Any]] = [
    {
        "sequence": 123456,
        "status": "FAILED",
        "method": "POST",
        "path": "/managed_accounts/110000000029535300/wire_transfers/" + "x" * 80,
        "operationId": "98765432109876543210",
        "requestPayload": '{"amount": 1000, "currency": "EUR", "note": "' + "n" * 100 + '"}',
        "responsePayload": '{"errorCode": "FUNDS_INSUFFICIENT", "message": "' + "m" * 90 + '"}',
    },
    {
        "sequence": 2,
        "status": "COMPLETED",
        "method": "DELETE",
        "path": "/カード/{id}/ブロック/全角文字の長いパス名前",
        "operationId": "11000000002953530002",
        "responsePayload": '{"id": "1", "state": "COMPLETED"}',
    },
]


def lines_at(
    width: int | None,
    records: list[dict[str, Any]],
    fields: Any,
    fmt: str = "table",
    marks: list[str] | None = None,
) -> list[str]:
    options = RenderOptions(
        fmt=fmt, fields=list(fields), now=NOW, terminal=width is not None, width=width
    )
    return table_lines(records, options, marks=marks)


def assert_fits(lines: list[str], records: list[dict[str, Any]], width: int, *ids: str) -> None:
    assert len(lines) == 1 + len(records)
    assert lines[0].strip(), "no blank first line"
    for line in lines:
        assert line == line.rstrip(" "), "no trailing spaces"
        assert "\n" not in line
        assert cell_len(line) <= width
    for record, line in zip(records, lines[1:], strict=True):
        for name in ids:
            assert str(record[name]) in line, f"{name} {record[name]} whole in {line!r}"
        # whole, or in its abbreviation from the --help legend (PARTIAL)
        status = record["status"]
        assert status in line.split() or STATUS_SHORT.get(status) in line.split()


@pytest.mark.parametrize("width", WIDTHS)
def test_the_bulk_list_keeps_one_line_a_row_with_whole_ids(width: int) -> None:
    lines = lines_at(width, BULKS, BULK_TABLE_FIELDS)
    assert_fits(lines, BULKS, width, "bulkId")
    if width >= 80:
        assert lines[0].split()[:3] == ["BULK", "ID", "STATUS"]
        assert "OPERATION" in lines[0] and "AGE" in lines[0]
        assert "…" in lines[1], "the long operation is cut"


@pytest.mark.parametrize("width", WIDTHS)
def test_the_operations_table_keeps_one_line_a_row(width: int) -> None:
    lines = lines_at(width, OPERATIONS, OPERATION_FIELDS)
    assert_fits(lines, OPERATIONS, width, "operationId")


@pytest.mark.parametrize("width", WIDTHS)
def test_payloads_of_the_operations_table_give_way_too(width: int) -> None:
    lines = lines_at(width, OPERATIONS, OPERATION_ALL_FIELDS)
    assert_fits(lines, OPERATIONS, width, "operationId")


@pytest.mark.parametrize("width", WIDTHS)
def test_summary_failures_and_live_tables_fit(width: int) -> None:
    summary = [{"status": "PARTIALLY_COMPLETED", "count": 12_345_678}, {"status": "TOTAL"}]
    assert_fits(
        lines_at(
            width, summary, [Field("status", "STATUS", "status"), Field("count", "COUNT", "int")]
        ),
        summary,
        width,
    )
    failures = [
        {"errorCode": "FUNDS_INSUFFICIENT", "count": 3, "example": "m" * 300, "status": ""},
        {"errorCode": "<html>" + "x" * 200, "count": 1, "example": "x", "status": ""},
    ]
    lines = lines_at(width, failures, FAILURE_FIELDS)
    assert len(lines) == 3 and all(cell_len(line) <= width for line in lines)
    assert "FUNDS_INSUFFICIENT" in lines[1]
    waiting = [
        {
            "bulkId": "12345678901234567890",
            "status": "RUNNING",
            "done": "1 / 2",
            "elapsed": "3s " + "e" * 200,
        }
    ]
    wait_fields = [
        Field("bulkId", "BULK ID"),
        Field("status", "STATUS", "status"),
        Field("done", "DONE"),
        Field("elapsed", "ELAPSED", cut=True),
    ]
    assert_fits(lines_at(width, waiting, wait_fields), waiting, width, "bulkId")


@pytest.mark.parametrize("width", WIDTHS)
def test_the_watch_table_with_its_marks_fits(width: int) -> None:
    lines = lines_at(width, BULKS, BULK_TABLE_FIELDS, marks=["•", " ", " "])
    assert_fits(lines, BULKS, width, "bulkId")
    assert lines[1].startswith("•")


def test_times_become_an_age_of_start_or_finish_and_modes_are_short() -> None:
    lines = lines_at(200, BULKS, BULK_TABLE_FIELDS)
    assert lines[1].endswith("2d"), "a finished bulk: the age of its finish"
    assert lines[2].endswith("45s"), "a running bulk: the age of its start"
    assert "CONTINUE" in lines[1] and "ON_FAILURE" not in lines[1]
    assert "STARTED" not in lines[0]
    assert [short_age(s) for s in (45, 119, 720, 3 * 3600, 2 * 86400, None)] == [
        "45s",
        "119s",
        "12m",
        "3h",
        "2d",
        "",
    ]


def test_wide_shows_full_times_with_their_zone_full_modes_and_uncut_text() -> None:
    lines = lines_at(80, BULKS, BULK_TABLE_FIELDS, fmt="wide")
    assert "STARTED" in lines[0] and "FINISHED" in lines[0] and "DURATION" in lines[0]
    assert "ON_FAILURE_CONTINUE" in lines[1]
    assert BULKS[0]["operation"] in lines[1]
    assert "…" not in "".join(lines)
    started = lines[1].split("  ")
    assert any(len(cell.strip().split()) == 3 for cell in started), "date, time and zone"


def test_empty_columns_are_dropped_but_a_header_alone_shows_every_column() -> None:
    bare = [{"bulkId": "1", "status": "SUBMITTED"}, {"bulkId": "2", "status": "SUBMITTED"}]
    assert lines_at(80, bare, BULK_TABLE_FIELDS)[0].split() == ["BULK", "ID", "STATUS"]
    assert "OPERATION" in lines_at(80, [], BULK_TABLE_FIELDS)[0]


def test_too_narrow_drops_the_least_needed_columns_first() -> None:
    header = lines_at(60, BULKS[:1], BULK_TABLE_FIELDS)[0]
    assert "MODE" not in header and "OPERATION" in header


def test_a_pipe_never_cuts() -> None:
    lines = lines_at(None, BULKS, BULK_TABLE_FIELDS)
    assert BULKS[0]["operation"] in lines[1]


def test_widths_follow_the_rule_of_gh() -> None:
    # fixed columns keep their natural width; the short flexible one keeps its own;
    # the long one takes what is left
    assert column_widths([20, 5, 50, 8], [10, 5, 10, 8], [False, True, True, False], 50) == [
        20,
        5,
        11,
        8,
    ]
    # two long flexible columns share what is left equally
    assert column_widths([10, 40, 40], [10, 10, 10], [False, True, True], 54) == [10, 20, 20]
    assert column_widths([10, 40], [10, 10], [False, True], None) == [10, 40]


def test_cutting_counts_terminal_cells() -> None:
    assert cut_to("中文中文", 5) == "中文…"
    assert cell_len(cut_to("中文中文", 5)) <= 5
    assert cut_to("short", 10) == "short"


def test_render_writes_the_table_lines_and_no_blank_first_line() -> None:
    out = io.StringIO()
    render(
        BULKS,
        RenderOptions(fmt="table", fields=BULK_TABLE_FIELDS, now=NOW, terminal=True, width=80),
        out,
    )
    text = out.getvalue()
    assert not text.startswith("\n") and text.endswith("\n")
    assert len(text.splitlines()) == 1 + len(BULKS)


def test_terminal_width_reads_columns_then_the_terminal() -> None:
    assert terminal_width(io.StringIO(), {"COLUMNS": "132"}) == 132
    assert terminal_width(io.StringIO(), {"COLUMNS": "wide"}) == 80
    assert terminal_width(io.StringIO(), {}) == 80


@pytest.mark.parametrize(
    ("line", "trimmed"),
    [
        ("status  SUBMITTED   ", "status  SUBMITTED"),
        # on a colour terminal rich styles a cell's padding like the cell: the spaces sit
        # among the codes, which stay (a reset must not be lost)
        ("\x1b[1mmode  \x1b[0m\x1b[1m  \x1b[0m", "\x1b[1mmode\x1b[0m\x1b[1m\x1b[0m"),
        ("a \x1b[31mb\x1b[0m", "a \x1b[31mb\x1b[0m"),
        ("", ""),
    ],
)
def test_rich_output_loses_its_trailing_spaces_and_keeps_its_colour_codes(
    line: str, trimmed: str
) -> None:
    from bulkctl.output.tables import _trimmed

    assert _trimmed(line) == trimmed


# -- issue 22: columns that keep their meaning ------------------------------------------------


def test_a_path_is_cut_in_the_middle_at_segment_boundaries() -> None:
    from bulkctl.output.tables import cut_path

    assert cut_path("/managed_cards/{id}/unblock", 24) == "/managed_cards/…/unblock"
    assert cut_path("/managed_cards/{id}/unblock", 20) == "/…/{id}/unblock"
    assert cut_path("/managed_cards/{id}/remove", 12) == "/…/remove"
    assert cut_path("/outgoing_wire_transfers", 16) == "/outgoing_wire_…"
    assert cut_path("/sends", 10) == "/sends"  # what fits is never cut
    for path in ("/managed_cards/{id}/block", "/managed_cards/{id}/unblock"):
        for width in range(10, 30):
            shown = cut_path(path, width)
            assert len(shown) <= width
            assert shown.endswith(path.rsplit("/", 1)[1]), (path, width, shown)


def test_the_list_at_80_columns_tells_card_operations_apart() -> None:
    kinds = ("block", "unblock", "remove")
    records = [
        {**BULKS[0], "bulkId": str(10**15 + i), "operation": f"/managed_cards/{{id}}/{kind}"}
        for i, kind in enumerate(kinds)
    ]
    lines = lines_at(80, records, BULK_TABLE_FIELDS)
    for kind, line in zip(kinds, lines[1:], strict=True):
        assert f"/{kind} " in line, line
        assert "PARTIAL " in line  # PARTIALLY_COMPLETED abbreviated, as the legend says


def test_statuses_are_abbreviated_only_when_the_table_is_narrow() -> None:
    record = {**BULKS[0], "operation": "/transfers"}
    assert "PARTIALLY_COMPLETED" in lines_at(120, [record], BULK_TABLE_FIELDS)[1]
    assert "PARTIALLY_COMPLETED" in lines_at(None, [record], BULK_TABLE_FIELDS)[1]
    assert "PARTIAL " in lines_at(60, [record], BULK_TABLE_FIELDS)[1]


def test_a_column_that_repeats_another_goes_before_any_is_cut() -> None:
    from bulkctl.commands.watch import WATCH_FIELDS

    record = {
        "bulkId": "1100000000295353",
        "status": "RUNNING",
        "operation": "/managed_cards/{id}/unblock",
        "submittedItemsCount": 10_000,
        "mode": "ON_FAILURE_STOP",
        "executionStart": NOW_MS - 45_000,
        "done": "1,317/10,000",
    }
    lines = lines_at(80, [record], WATCH_FIELDS, marks=[" "])
    assert "ITEMS" not in lines[0]  # DONE says the total
    assert "/managed_cards/…/unblock" in lines[1] or "/managed_cards/{id}/unblock" in lines[1]
    assert "ITEMS" in lines_at(200, [record], WATCH_FIELDS, marks=[" "])[0]


def test_the_list_table_shows_done_of_total_where_counts_were_read() -> None:
    from bulkctl.commands.list import LIST_TABLE_FIELDS

    counts = [{"status": "COMPLETED", "count": 12}, {"status": "FAILED", "count": 3}]
    records = [
        {**BULKS[1], "status": "RUNNING", "submittedItemsCount": 40},
        {**BULKS[1], "bulkId": "2", "status": "PAUSED", "operationStatusCounts": counts},
        {**BULKS[2], "submittedItemsCount": 40},
    ]
    records[1]["submittedItemsCount"] = 40
    for record in records:
        record["operation"] = "/sends"
    lines = lines_at(200, records, LIST_TABLE_FIELDS)
    assert lines[0].split()[:6] == ["BULK", "ID", "STATUS", "OPERATION", "DONE", "ITEMS"]
    assert lines[1].split()[3] == "…"  # not read: unknown, never 0
    assert lines[2].split()[3] == "15/40"
    assert lines[3].split()[3] == "40"  # a SUBMITTED bulk: nothing, then ITEMS
