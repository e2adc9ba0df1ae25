"""Nothing from the server reaches a terminal raw: every output path, fed strings laced with
ESC, CSI, OSC 0, OSC 8, BEL, CR, backspace, DEL and C1 CSI, shows them as ``\\xHH``, and the
bidi, zero-width and line-separator characters as ``\\u{HHHH}`` (JSON: exact values, DEL, C1
and those characters as ``\\uXXXX``)."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from bulkctl.api.client import error_from_response
from bulkctl.api.records import BulkOperation, group_failures
from bulkctl.cli.options import choose_output
from bulkctl.commands.bulk.operations import OperationsOptions
from bulkctl.commands.bulk.operations import run as run_operations
from bulkctl.commands.bulk.show import ShowOptions
from bulkctl.commands.bulk.show import run as run_show
from bulkctl.commands.list import ListOptions
from bulkctl.commands.list import run as run_list
from bulkctl.context import Clock, Context, GlobalOptions
from bulkctl.errors import ApiError
from bulkctl.output.render import (
    BULK_ALL_FIELDS,
    BULK_FIELDS,
    BULK_TABLE_FIELDS,
    FORMATS,
    OPERATION_ALL_FIELDS,
    OPERATION_FIELDS,
    RenderOptions,
    json_text,
    render,
    render_failures,
    unescape_plain,
)
from bulkctl.safetext import safe_json, safe_text, without_hidden

HOSTILE = (
    "a\x1b[2Jb"  # ESC CSI: clear the screen
    "\x1b]0;owned\x07"  # OSC 0: retitle the window, BEL
    "\x1b]8;;https://evil.example/\x1b\\link\x1b]8;;\x1b\\"  # OSC 8 hyperlink
    "\rover\x08\x7f"  # CR, backspace, DEL
    "\x9b31mred\x85z"  # C1 CSI, C1 NEL
    "\u202e0.01\u202c"  # RIGHT-TO-LEFT OVERRIDE ... POP: "10.0" reads as "0.01"
    "\u2067x\u2069\u061c\u200e\u200f"  # isolates, arabic letter mark, LRM, RLM
    "in\u200bvis\u2060ible\ufeff"  # zero width space, word joiner, BOM
    "\u2028\u2029"  # line and paragraph separators
)
# what must never reach a terminal from the data
RAW = (
    *("\x1b", "\x07", "\x9b", "\x08", "\x7f", "\x85"),
    *("\u202e", "\u202c", "\u2067", "\u2069", "\u061c", "\u200e", "\u200f"),
    *("\u200b", "\u2060", "\ufeff", "\u2028", "\u2029"),
)


def assert_clean(text: str) -> None:
    for char in RAW:
        assert char not in text, f"{char!r} reached the output"


def without_our_colours(text: str) -> str:
    """The text less the colour codes bulkctl itself writes on a terminal (SGR: ESC [ ... m)."""
    return re.sub("\x1b\\[[0-9;]*m", "", text)


def test_safe_text_shows_every_control_as_hex() -> None:
    assert safe_text("a\x1b[2J\x07\x9b\x7f\x00é中") == "a\\x1b[2J\\x07\\x9b\\x7f\\x00é中"
    assert safe_text("tab\tline\n", keep="\t\n") == "tab\tline\n"
    assert safe_text(safe_text(HOSTILE)) == safe_text(HOSTILE), "safe twice is safe once"
    shown = safe_text("".join(map(chr, range(0xA0))))
    assert all(ch == "\\" or ch.isprintable() for ch in shown)


# the characters issue 20 names: bidi controls, zero widths, line and paragraph separators
TROJAN_SOURCE = [
    *range(0x202A, 0x202F),
    *range(0x2066, 0x206A),
    0x061C,
    *range(0x200B, 0x2010),
    0x2060,
    0xFEFF,
    0x2028,
    0x2029,
]


@pytest.mark.parametrize("code", TROJAN_SOURCE, ids=lambda c: f"U+{c:04X}")
def test_bidi_zero_width_and_separators_are_shown_as_their_code_point(code: int) -> None:
    assert safe_text(f"10{chr(code)}.0") == f"10\\u{{{code:04x}}}.0"
    assert without_hidden(f"/tr{chr(code)}ansfers") == "/transfers"
    encoded = safe_json(json.dumps({"v": chr(code)}, ensure_ascii=False))
    assert chr(code) not in encoded and json.loads(encoded) == {"v": chr(code)}


def test_nel_is_a_c1_control_and_shown_as_hex() -> None:
    assert safe_text("a\x85b") == "a\\x85b"


def test_a_right_to_left_override_cannot_reverse_an_amount() -> None:
    # "amount 10.00 EUR" typed as U+202E "RUE 00.01": a terminal would show "amount 10.00 EUR"
    shown = safe_text("amount \u202eRUE 00.01")
    assert shown == "amount \\u{202e}RUE 00.01"
    assert all(ch.isprintable() for ch in shown)


def test_safe_json_escapes_del_and_c1_and_keeps_the_value() -> None:
    encoded = safe_json(json.dumps({"x": HOSTILE}, ensure_ascii=False))
    assert_clean(encoded)
    assert "\\u009b" in encoded
    assert json.loads(encoded) == {"x": HOSTILE}
    assert json.loads(json_text([HOSTILE], indent=2)) == [HOSTILE]


BULK = {
    "bulkId": "1100000000295353",
    "status": "RUNNING" + HOSTILE,
    "operation": "/sends/" + HOSTILE,
    "submittedItemsCount": 3,
    "mode": HOSTILE,
    "executionStart": 1_700_000_000_000,
    "operationStatusCounts": [{"status": HOSTILE, "count": 1}],
}
OPERATION = {
    "operationId": "5" + HOSTILE,
    "sequence": 1,
    "method": "POST" + HOSTILE,
    "path": "/sends/" + HOSTILE,
    "status": "FAILED",
    "requestPayload": HOSTILE,
    "responsePayload": json.dumps({"errorCode": "E" + HOSTILE, "message": HOSTILE}),
}


def rendered(fmt: str, records: list[dict[str, Any]], fields: Any, **kw: Any) -> str:
    out = io.StringIO()
    render(records, RenderOptions(fmt=fmt, fields=list(fields), **kw), out)
    return out.getvalue()


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("terminal", [True, False])
def test_every_format_of_every_listing_is_clean(fmt: str, terminal: bool) -> None:
    for records, fields in (([BULK], BULK_ALL_FIELDS), ([OPERATION], OPERATION_ALL_FIELDS)):
        text = rendered(fmt, records, fields, terminal=terminal, width=80, color=terminal)
        if fmt in ("json", "jsonl"):
            assert "\x9b" not in text and "\x7f" not in text and "\x85" not in text
            first = json.loads(text.splitlines()[0] if fmt == "jsonl" else text)
            value = first if fmt == "jsonl" else first[0]
            assert value[fields[1].name] == records[0][fields[1].name], "exact values"
        else:
            assert_clean(without_our_colours(text))


def test_plain_round_trips_controls_and_csv_reads_back_their_hex() -> None:
    plain = rendered("plain", [BULK], BULK_FIELDS, header=False)
    assert [unescape_plain(c) for c in plain.rstrip("\n").split("\t")][2] == BULK["operation"]
    row = next(csv.reader(io.StringIO(rendered("csv", [BULK], BULK_FIELDS, header=False))))
    assert row[2] == safe_text(BULK["operation"], keep="\t\n\r")
    assert "<br>" in rendered("markdown", [{"operation": "a\nb"}], BULK_FIELDS)


def test_failure_groups_are_clean_in_every_format() -> None:
    op = BulkOperation(
        OPERATION, "5", 1, "POST", "/x", "FAILED", None, OPERATION["responsePayload"]
    )
    groups = group_failures([op])
    for fmt in FORMATS:
        out = io.StringIO()
        render_failures(groups, RenderOptions(fmt=fmt, fields=[], terminal=True, width=80), out)
        if fmt == "json":
            assert json.loads(out.getvalue()) == [
                {"errorCode": "E" + HOSTILE, "count": 1, "example": HOSTILE}
            ]
        else:
            assert_clean(out.getvalue())


class FakeClock(Clock):
    def sleep(self, seconds: float) -> None:
        pass


def context(tmp_path: Path, answer: Any, tty: bool) -> Context:
    def handler(request: httpx.Request) -> httpx.Response:
        status, body = answer(request)
        return httpx.Response(status, json=body, headers={"location": "https://x/\x1b]0;t\x07"})

    return Context(
        stdout=io.StringIO(),
        stderr=io.StringIO(),
        stdin=io.StringIO(),
        env={
            "BULKCTL_BASE_URL": "https://api.example.com/multi",
            "BULKCTL_API_KEY": "k",
            "BULKCTL_AUTH_TOKEN": "t",
            "COLUMNS": "80",
        },
        config_dir=tmp_path / "cfg",
        state_dir=tmp_path / "state",
        clock=FakeClock(),
        options=GlobalOptions(),
        stdout_tty=tty,
        stderr_tty=tty,
        transport=httpx.MockTransport(handler),
    )


def outputs(ctx: Context) -> str:
    return ctx.stdout.getvalue() + ctx.stderr.getvalue()  # type: ignore[attr-defined]


def choice(fmt: str | None, tty: bool, available: Any, default: Any, table: Any = None) -> Any:
    return choose_output(
        output=fmt,
        json_flag=False,
        jsonl_flag=False,
        fields_spec=None,
        header=True,
        stdout_tty=tty,
        available=available,
        default_fields=default,
        table_fields=table,
    )


@pytest.mark.parametrize("fmt", [None, "wide", "plain", "csv", "markdown"])
def test_list_show_and_operations_commands_are_clean(tmp_path: Path, fmt: str | None) -> None:
    page = {"bulkProcesses": [BULK], "count": 1, "responseCount": 1}
    ops = {"operations": [OPERATION], "count": 1, "responseCount": 1}

    def answer(request: httpx.Request) -> tuple[int, Any]:
        if request.url.path.endswith("/operations"):
            return 200, ops
        return 200, page if request.url.path.endswith("/bulks") else BULK

    ctx = context(tmp_path, answer, tty=True)
    output = choice(fmt, True, BULK_ALL_FIELDS, BULK_FIELDS, BULK_TABLE_FIELDS)
    run_list(ctx, ListOptions(statuses=["RUNNING", "PAUSED"], wanted=5, offset=0, output=output))
    run_show(ctx, ShowOptions(BULK["bulkId"], choice(fmt, True, BULK_ALL_FIELDS, BULK_ALL_FIELDS)))
    options = OperationsOptions(
        "1", [], None, 5, 0, choice(fmt, True, OPERATION_ALL_FIELDS, OPERATION_FIELDS)
    )
    run_operations(ctx, options)
    ctx.close()
    text = outputs(ctx)
    assert "1100000000295353" in text
    assert_clean(without_our_colours(text))


def test_api_errors_notes_and_warnings_are_clean(tmp_path: Path, capsys: Any) -> None:
    from bulkctl.__main__ import _error

    body = {
        "message": HOSTILE,
        "errorCode": "X" + HOSTILE,
        "syntaxErrors": {"invalidFields": [{"fieldName": HOSTILE, "error": HOSTILE}]},
    }
    for status in (400, 409, 302, 500):
        error = error_from_response(
            httpx.Response(
                status,
                json=body,
                headers={"location": b"/\x1b]0;t\x07", "request-ref": HOSTILE.encode()},
            ),
            "listing bulks",
        )
        assert isinstance(error, ApiError)
        for line in error.lines():
            assert_clean(line)
        assert_clean(error.message)
        _error([HOSTILE, HOSTILE])
    ctx = context(tmp_path, lambda r: (200, {}), tty=True)
    ctx.note(HOSTILE)
    ctx.warn(HOSTILE)
    captured = capsys.readouterr()
    assert_clean(captured.err + outputs(ctx))
    assert "\\x1b[2J" in captured.err


def test_live_views_are_clean(tmp_path: Path) -> None:
    from bulkctl.api.records import parse_bulk
    from bulkctl.commands.watch import BulkView, ListView, change_line
    from bulkctl.waiting.progress import LiveTable

    ctx = context(tmp_path, lambda r: (200, {}), tty=True)
    bulk = parse_bulk(BULK)
    view = ListView(ctx)
    view.update([bulk], {bulk.bulk_id or ""})
    view.stop()
    one = BulkView(ctx)
    one.update(bulk, HOSTILE)
    one.stop()

    from bulkctl.waiting.polling import Poller

    poller = Poller(
        ctx,
        None,  # type: ignore[arg-type]  # the table reads, never polls
        ["1100000000295353"],
        latest={"1100000000295353": bulk},
        problems={"1100000000295353": HOSTILE},
    )
    table = LiveTable(ctx, 0.0)
    table.update(poller)
    table.stop()
    text = outputs(ctx)
    assert "1100000000295353" in text
    assert_clean(text)
    line = change_line(bulk, HOSTILE)
    assert (
        "\x9b" not in line and "\x7f" not in line and json.loads(line)["previousStatus"] == HOSTILE
    )
