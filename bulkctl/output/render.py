"""Every output format from one path: records (API objects) and fields in, text out.

Formats: ``table`` (rich, for people), ``plain`` (tab-separated, for pipes), ``json``
(one document, written when complete), ``jsonl``, ``csv`` (RFC 4180) and ``markdown``.
Commands never print a format themselves; they hand records and fields to ``render``.

Values that contain a format's separators are escaped so each format parses back to
the same values: plain writes ``\\``, tab, newline and carriage return as ``\\\\``,
``\\t``, ``\\n`` and ``\\r``; csv quotes. No format but JSON/JSONL lets a control character
through: the other C0 and C1 controls and DEL are written ``\\xHH``, and the bidi and
zero-width characters ``\\u{HHHH}`` (``bulkctl.safetext``); JSON and JSONL keep exact values
and escape DEL, C1 and those characters as ``\\uXXXX``.

Formats read by other programs do not let server text act there: csv prefixes a text cell
that a spreadsheet would run as a formula with ``'``; markdown backslash-escapes what
Markdown would read as a link, image, HTML, emphasis or a cell's end, and writes newlines as
``<br>``.

Tables are laid out once, here, from the terminal width: ids and statuses keep their
natural width, the columns that may give way (``Field.cut``) share what is left, and the
least needed columns (``Field.priority``) are dropped when even that does not fit.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from bulkctl.api.records import FailureGroup
from bulkctl.errors import UsageError
from bulkctl.safetext import safe_json, safe_text

FORMATS: tuple[str, ...] = ("table", "wide", "plain", "json", "jsonl", "csv", "markdown")
TABLE_FORMATS = ("table", "wide")
# one encoder for every row: json.dumps builds a new one per call when given options
_JSON_LINE = json.JSONEncoder(ensure_ascii=False).encode


def json_line(value: Any) -> str:
    """One JSON value on one line, exact, with DEL and C1 escaped."""
    return safe_json(_JSON_LINE(value))


def json_text(value: Any, indent: int | None = None) -> str:
    """Any JSON document bulkctl writes: exact values, DEL and C1 escaped as ``\\u00XX``."""
    return safe_json(json.dumps(value, ensure_ascii=False, indent=indent))


STATUS_STYLES: dict[str, str] = {
    "COMPLETED": "green",
    "PARTIALLY_COMPLETED": "yellow",
    "FAILED": "bold red",
    "CANCELLED": "magenta",
    "RUNNING": "cyan",
    "PAUSED": "yellow",
    "SUBMITTED": "blue",
}


@dataclass(frozen=True)
class Field:
    """One column: the API's field name, a header for tables, and how to show the value."""

    name: str
    header: str
    kind: str = "text"  # text, status, int, time, duration, age, payload, json, mode
    derive: Callable[[dict[str, Any], float], Any] | None = None
    cut: bool = False  # a table may cut it with "…" to fit; never ids, statuses or numbers
    priority: int = 9  # tables too narrow drop the lowest first; 9 is never dropped
    wide_only: bool = False  # a table shows it with -o wide only

    def value(self, record: dict[str, Any], now: float) -> Any:
        if self.derive is not None:
            return self.derive(record, now)
        return record.get(self.name)


def _duration(record: dict[str, Any], now: float) -> Any:
    start = record.get("executionStart")
    if not isinstance(start, int) or isinstance(start, bool):
        return None
    finish = record.get("executionFinish")
    end = finish if isinstance(finish, int) and not isinstance(finish, bool) else None
    if end is None:
        if record.get("status") not in ("RUNNING", "PAUSED"):
            return None
        end = int(now * 1000)
    return max(0, end - start) // 1000


def _age(record: dict[str, Any], now: float) -> Any:
    """Seconds since the bulk finished, or since it started when it has not finished."""
    for name in ("executionFinish", "executionStart"):
        moment = record.get(name)
        if isinstance(moment, int) and not isinstance(moment, bool):
            return max(0, int(now) - moment // 1000)
    return None


BULK_FIELDS: tuple[Field, ...] = (
    Field("bulkId", "BULK ID"),
    Field("status", "STATUS", "status"),
    Field("operation", "OPERATION", cut=True, priority=5),
    Field("submittedItemsCount", "ITEMS", "int", priority=3),
    Field("mode", "MODE", "mode", priority=1),
    Field("executionStart", "STARTED", "time"),
    Field("executionFinish", "FINISHED", "time"),
)
DURATION_FIELD = Field("duration", "DURATION", "duration", derive=_duration)
AGE_FIELD = Field("age", "AGE", "age", derive=_age, priority=4)
# a terminal's table: AGE for the times; -o wide adds the full times and the duration
BULK_TABLE_FIELDS: tuple[Field, ...] = (
    *BULK_FIELDS[:5],
    AGE_FIELD,
    Field("executionStart", "STARTED", "time", wide_only=True),
    Field("executionFinish", "FINISHED", "time", wide_only=True),
    Field("duration", "DURATION", "duration", derive=_duration, wide_only=True),
)
BULK_ALL_FIELDS: tuple[Field, ...] = (
    *BULK_FIELDS,
    DURATION_FIELD,
    AGE_FIELD,
    Field("operationStatusCounts", "OPERATION COUNTS", "json", cut=True, priority=2),
)

OPERATION_FIELDS: tuple[Field, ...] = (
    Field("sequence", "SEQ", "int"),
    Field("status", "STATUS", "status"),
    Field("method", "METHOD", priority=3),
    Field("path", "PATH", cut=True, priority=5),
    Field("operationId", "OPERATION ID"),
    Field("responsePayload", "RESPONSE", "payload", cut=True, priority=4),
)
OPERATION_ALL_FIELDS: tuple[Field, ...] = (
    *OPERATION_FIELDS[:5],
    Field("requestPayload", "REQUEST", "payload", cut=True, priority=2),
    OPERATION_FIELDS[5],
)

# "why did it fail": FailureGroup.as_record() rows (JSON: a list of {errorCode, count, example})
FAILURE_FIELDS: tuple[Field, ...] = (
    Field("errorCode", "ERROR CODE", cut=True),
    Field("count", "COUNT", "int"),
    Field("example", "EXAMPLE", cut=True, priority=5),
)


def pick_fields(
    spec: str | None, available: Sequence[Field], default: Sequence[Field]
) -> list[Field]:
    """``--fields a,b`` -> those fields in that order; unknown names are a usage error."""
    if not spec:
        return list(default)
    by_name = {f.name.lower(): f for f in available}
    chosen: list[Field] = []
    for part in spec.split(","):
        name = part.strip().lower()
        if not name:
            continue
        found = by_name.get(name)
        if found is None:
            raise UsageError(
                f"unknown field {part.strip()!r}",
                hint=f"valid fields: {', '.join(f.name for f in available)}",
            )
        if found not in chosen:
            chosen.append(found)
    if not chosen:
        raise UsageError(
            "--fields names no field", hint=f"valid fields: {', '.join(f.name for f in available)}"
        )
    return chosen


def check_format(fmt: str) -> str:
    """A known output format name (any case), or a usage error."""
    value = fmt.strip().lower()
    if value not in FORMATS:
        raise UsageError(f"unknown output format {fmt!r}", hint=f"formats: {', '.join(FORMATS)}")
    return value


# -- value formatting -------------------------------------------------------------------------


def iso_utc(ms: Any) -> str | None:
    """Epoch milliseconds as ISO-8601 UTC; None when it is not a representable time."""
    if not isinstance(ms, int) or isinstance(ms, bool):
        return None
    try:
        moment = datetime.fromtimestamp(ms / 1000, UTC)
    except (OverflowError, ValueError, OSError):
        return None
    # the year by hand: strftime writes year 1 as "1" on glibc
    return f"{moment.year:04d}" + moment.strftime("-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}Z"


def local_time(ms: Any) -> str | None:
    """Epoch milliseconds as local time with its zone, for people; None when not a time."""
    if not isinstance(ms, int) or isinstance(ms, bool):
        return None
    try:
        moment = datetime.fromtimestamp(ms / 1000).astimezone()
    except (OverflowError, ValueError, OSError):
        return None
    zone = moment.strftime("%Z") or moment.strftime("%z")
    return f"{moment.year:04d}" + moment.strftime("-%m-%d %H:%M:%S ") + zone


def short_age(seconds: Any) -> str:
    """An age in its largest whole unit, as ``kubectl get`` shows it: 45s, 12m, 3h, 2d."""
    if not isinstance(seconds, int) or isinstance(seconds, bool):
        return ""
    # a unit once there are at least two of it (kubectl's habit), days from the first
    for unit, size, from_count in (("d", 86400, 1), ("h", 3600, 2), ("m", 60, 2)):
        if seconds >= size * from_count:
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


MODE_SHORT = {"ON_FAILURE_STOP": "STOP", "ON_FAILURE_CONTINUE": "CONTINUE"}


def human_duration(seconds: Any) -> str:
    if not isinstance(seconds, int) or isinstance(seconds, bool):
        return ""
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    if seconds < 86400 * 3:
        return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d {seconds % 86400 // 3600:02d}h"


def text_value(field: Field, value: Any) -> str:
    """The value as text for plain, csv and markdown: ISO UTC times, JSON for structures."""
    if value is None:
        return ""
    if field.kind == "time":
        shown = iso_utc(value)
        if shown is not None:
            return shown
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def short_payload(value: Any, width: int = 60) -> str:
    """A one-line gist of a response payload: the API error's message or code when there is one."""
    if not isinstance(value, str) or not value:
        return ""
    try:
        data = json.loads(value)
    except ValueError:
        data = None
    if isinstance(data, dict):
        for key in ("message", "errorCode", "code", "state", "id"):
            if isinstance(data.get(key), str | int) and not isinstance(data.get(key), bool):
                shown = str(data[key])
                if key == "message" and isinstance(data.get("errorCode"), str):
                    shown = f"{data['errorCode']}: {shown}"
                break
        else:
            shown = value
    else:
        shown = value
    shown = " ".join(shown.split())
    return shown if len(shown) <= width else shown[: width - 1] + "…"


def escape_plain(text: str) -> str:
    """One plain cell: backslash, tab, newline and CR as escapes; other controls ``\\xHH``."""
    escaped = (
        text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )
    return safe_text(escaped)


def unescape_plain(text: str) -> str:
    """The inverse of ``escape_plain``, for readers of plain output (and the tests)."""
    out: list[str] = []
    chars = iter(text)
    for ch in chars:
        if ch != "\\":
            out.append(ch)
            continue
        nxt = next(chars, "")
        if nxt == "x":
            digits = next(chars, "") + next(chars, "")
            try:
                out.append(chr(int(digits, 16)))
            except ValueError:
                out.append("\\x" + digits)
            continue
        if nxt == "u":  # \u{HHHH}: a hidden character made visible
            braced = "".join(next(chars, "") for _ in range(6))
            if braced[:1] == "{" and braced[5:] == "}" and _is_hex(braced[1:5]):
                out.append(chr(int(braced[1:5], 16)))
            else:
                out.append("\\u" + braced)
            continue
        out.append({"t": "\t", "n": "\n", "r": "\r", "\\": "\\"}.get(nxt, "\\" + nxt))
    return "".join(out)


def _is_hex(text: str) -> bool:
    return len(text) == 4 and all(ch in "0123456789abcdefABCDEF" for ch in text)


# the ASCII punctuation that can start or end anything in Markdown (CommonMark lets a
# backslash make each of them plain text); / , ; ' " % ? cannot, and are left as they are
_MARKDOWN_ESCAPES = {ord(ch): "\\" + ch for ch in "!#$&()*+-.:<=>@[\\]^_`{|}~"}
# "_" between letters or digits cannot open or close emphasis: PARTIALLY_COMPLETED stays
_INTRAWORD_UNDERSCORE = re.compile(r"(?<=[A-Za-z0-9])\\_(?=[A-Za-z0-9])")


def escape_markdown(text: str) -> str:
    """Server text that Markdown (CommonMark or GitHub's, in a table cell or a line of its
    own) renders as exactly that text: the ASCII punctuation that Markdown reads is
    backslash-escaped (``_`` within a word is left), so no link, image, autolink, HTML,
    entity, emphasis, code span, list or ``|`` can start; newlines become ``<br>``; other
    controls ``\\xHH``, hidden characters ``\\u{HHHH}``."""
    escaped = _INTRAWORD_UNDERSCORE.sub("_", text.translate(_MARKDOWN_ESCAPES))
    escaped = escaped.replace("\r\n", "\n").replace("\r", "\n")
    shown = safe_text(escaped.replace("\n", "<br>"))
    # a space at either end as its entity: Markdown trims spaces there, and four of them
    # at the start of a line make a code block
    if shown.startswith(" "):
        shown = "&#32;" + shown[1:]
    if shown.endswith(" "):
        shown = shown[:-1] + "&#32;"
    return shown


def markdown_cell(field: Field, value: Any) -> str:
    """One markdown cell: numbers and times that bulkctl wrote as they are, all else escaped."""
    shown = text_value(field, value)
    if isinstance(value, int) and not isinstance(value, bool):
        return shown  # digits and a sign, or an ISO time: nothing Markdown reads
    return escape_markdown(shown)


# what a spreadsheet reads as the start of a formula (OWASP's list)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def escape_csv(text: str) -> str:
    """One csv cell: tab, LF and CR kept (the csv module quotes them), other controls ``\\xHH``."""
    return safe_text(text, keep="\t\n\r")


def csv_cell(field: Field, value: Any) -> str:
    """One csv cell. Server text that starts like a formula (``=``, ``+``, ``-``, ``@``, tab,
    CR) gets a leading ``'``, as OWASP advises, so a spreadsheet shows it rather than runs
    it; numbers (``-5``), times and ids of digits are never changed."""
    shown = text_value(field, value)
    if isinstance(value, str) and shown.startswith(FORMULA_STARTS):
        shown = "'" + shown
    return escape_csv(shown)


# -- rendering --------------------------------------------------------------------------------


@dataclass
class RenderOptions:
    fmt: str
    fields: Sequence[Field]
    header: bool = True
    color: bool = False
    whole_objects: bool = False  # json/jsonl: the API objects as sent, not just the fields
    now: float = 0.0
    full_payloads: bool = False
    terminal: bool = False  # a table for a terminal fits its width; elsewhere it never wraps
    width: int | None = None  # the terminal's columns; None: lines as long as their cells


def terminal_width(stream: Any, env: Mapping[str, str]) -> int:
    """The columns of the terminal behind ``stream``: $COLUMNS first (as the shell and
    Python's shutil read it), then the terminal itself, else 80."""
    columns = env.get("COLUMNS", "")
    if columns.strip().isdigit() and int(columns) > 0:
        return int(columns)
    try:
        return os.get_terminal_size(stream.fileno()).columns or 80
    except (AttributeError, ValueError, OSError, io.UnsupportedOperation):
        return 80


def table_console(out: TextIO, *, color: bool, terminal: bool) -> Any:
    """A rich console for ``out``: colour only when asked, no markup read from the data."""
    from rich.console import Console

    return Console(
        file=out,
        no_color=not color,
        color_system="auto" if color else None,
        width=None if terminal else 100_000,
        highlight=False,
        emoji=False,
        markup=False,
    )


def print_rich(out: TextIO, renderable: Any, *, color: bool, terminal: bool) -> None:
    """Print a rich renderable to ``out`` with no trailing spaces (rich pads a grid's cells
    to the column's width)."""
    console = table_console(out, color=color, terminal=terminal)
    with console.capture() as captured:
        console.print(renderable)
    lines = captured.get().split("\n")
    out.write("\n".join(_trimmed(line) for line in lines))
    out.flush()


# a line's tail of spaces and colour codes (rich styles a cell's padding like the cell)
_TAIL = re.compile(r"(?: |\x1b\[[0-9;]*m)+$")


def _trimmed(line: str) -> str:
    """``line`` without trailing spaces, the colour codes among them kept."""
    tail = _TAIL.search(line)
    if tail is None:
        return line
    return line[: tail.start()] + tail.group().replace(" ", "")


def render(records: Iterable[dict[str, Any]], options: RenderOptions, out: TextIO) -> int:
    """Write ``records`` in ``options.fmt``; returns how many were written."""
    fmt = options.fmt
    if fmt == "json":
        # each element's text as it arrives, not the parsed records: the document must be
        # complete before its first byte is written, and text is the leanest form to hold
        items = [_json_element(_json_object(r, options)) for r in records]
        if not items:
            out.write("[]\n")
        else:
            out.write("[\n")
            last = len(items) - 1
            for index, item in enumerate(items):
                out.write(item + (",\n" if index < last else "\n"))
            out.write("]\n")
        out.flush()
        return len(items)
    if fmt in TABLE_FORMATS:
        rows_list = list(records)
        lines = table_lines(rows_list, options)
        out.write("".join(line + "\n" for line in lines))
        out.flush()
        return len(rows_list)
    if fmt == "markdown":
        rows_list = list(records)
        _markdown(rows_list, options, out)
        return len(rows_list)
    line: Callable[[dict[str, Any]], str]
    if fmt == "jsonl":

        def line(record: dict[str, Any]) -> str:
            return json_line(_json_object(record, options)) + "\n"

    elif fmt == "csv":
        buffer = io.StringIO()
        sheet = csv.writer(buffer, lineterminator="\r\n")

        def line(record: dict[str, Any]) -> str:
            buffer.seek(0)
            buffer.truncate()
            sheet.writerow([csv_cell(f, f.value(record, options.now)) for f in options.fields])
            return buffer.getvalue()

        if options.header:
            sheet.writerow([f.name for f in options.fields])
            out.write(buffer.getvalue())

    else:  # plain
        if options.header:
            out.write("\t".join(f.name for f in options.fields) + "\n")

        def line(record: dict[str, Any]) -> str:
            cells = [
                escape_plain(text_value(f, f.value(record, options.now))) for f in options.fields
            ]
            return "\t".join(cells) + "\n"

    # whole lines into the (buffered) stream; the caller flushes at page boundaries
    count = 0
    write = out.write
    try:
        for record in records:
            write(line(record))
            count += 1
    finally:
        out.flush()
    return count


_JSON_INDENTED = json.JSONEncoder(ensure_ascii=False, indent=2).encode


def _json_element(value: Any) -> str:
    """``value`` as an element of a top-level array indented by 2: exactly the text that
    ``json_text([..., value, ...], indent=2)`` holds for it."""
    return "  " + safe_json(_JSON_INDENTED(value)).replace("\n", "\n  ")


def _json_object(record: dict[str, Any], options: RenderOptions) -> Any:
    if options.whole_objects:
        return record
    return {f.name: f.value(record, options.now) for f in options.fields}


# -- tables -----------------------------------------------------------------------------------

_SGR = {"green": "32", "yellow": "33", "bold red": "1;31", "magenta": "35", "cyan": "36"}
_SGR |= {"blue": "34", "bold yellow": "1;33", "bold": "1"}
GAP = 2  # spaces between columns
MIN_CUT_WIDTH = 10  # a column cut narrower than this (or its header) says too little


def cell_text(field: Field, value: Any, *, wide: bool = False, full: bool = False) -> str:
    """The value as a person reads it in a table or ``show``, safe for a terminal: local
    times, ages, grouped numbers, short modes, payload gists; controls as ``\\xHH``."""
    shown: str | None = None
    if field.kind == "time":
        shown = local_time(value)
    elif field.kind == "duration":
        shown = human_duration(value)
    elif field.kind == "age":
        shown = short_age(value)
    elif field.kind == "int" and isinstance(value, int) and not isinstance(value, bool):
        shown = f"{value:,}"
    elif field.kind == "payload" and not full:
        shown = short_payload(value, width=200)
    elif field.kind == "mode" and not wide and isinstance(value, str):
        shown = MODE_SHORT.get(value, value)
    if shown is None:
        shown = text_value(field, value)
    return safe_text(shown)


def table_cell(field: Field, value: Any, options: RenderOptions) -> Any:
    """One value as rich ``Text`` (never markup) for ``show``'s layout, which has room for
    the whole mode."""
    from rich.text import Text

    shown = cell_text(field, value, wide=True, full=options.full_payloads)
    style = ""
    if field.kind == "status" and isinstance(value, str) and options.color:
        style = STATUS_STYLES.get(value, "")
    return Text(shown, style=style)


def cells(text: str) -> int:
    """How many terminal cells ``text`` (already safe: no controls) takes."""
    if text.isascii():  # printable ASCII: one cell a character
        return len(text)
    from rich.cells import cell_len

    return cell_len(text)


def cut_to(text: str, width: int) -> str:
    """``text`` in at most ``width`` terminal cells, ending in "…" when it was cut."""
    from rich.cells import cell_len

    if cells(text) <= width:
        return text
    if width <= 0:
        return ""
    if text.isascii():
        return text[: width - 1] + "…"
    kept: list[str] = []
    used = 0
    for char in text:
        size = cell_len(char)
        if used + size > width - 1:
            break
        kept.append(char)
        used += size
    return "".join(kept) + "…"


def column_widths(
    natural: Sequence[int],
    minimum: Sequence[int],
    cut: Sequence[bool],
    width: int | None,
) -> list[int]:
    """How wide each column is: the rule of gh's table printer. Columns that are never cut
    get their natural width; what is left is shared among the others, those narrower than
    their share keeping their natural width and the rest splitting the remainder."""
    widths = list(natural)
    if width is None:
        return widths
    flexible = [i for i, c in enumerate(cut) if c]
    left = (
        width
        - GAP * (len(natural) - 1)
        - sum(natural[i] for i in range(len(natural)) if not cut[i])
    )
    for i in flexible:
        widths[i] = min(natural[i], minimum[i])
    left -= sum(widths[i] for i in flexible)
    wanting = [i for i in flexible if widths[i] < natural[i]]
    while left > 0 and wanting:
        share = max(1, left // len(wanting))
        for i in list(wanting):
            grow = min(share, natural[i] - widths[i], left)
            widths[i] += grow
            left -= grow
            if widths[i] >= natural[i]:
                wanting.remove(i)
            if left <= 0:
                break
    return widths


def table_lines(
    records: Sequence[dict[str, Any]],
    options: RenderOptions,
    marks: Sequence[str] | None = None,
) -> list[str]:
    """The table's lines, one a record after the header, none ending in a space.

    ``options.width`` is the terminal's width (None: no limit, as in a pipe or with
    ``-o wide``). Columns empty in every row are dropped; when the rest cannot fit, the
    columns of lowest ``Field.priority`` go first; ids and statuses are never cut. ``marks``,
    one a record, make an unnamed first column (a live view's change marker).
    """
    wide = options.fmt == "wide"
    fields = [f for f in options.fields if wide or not f.wide_only]
    rows = [
        [
            cell_text(f, f.value(r, options.now), wide=wide, full=options.full_payloads)
            for f in fields
        ]
        for r in records
    ]
    if records:  # an empty column says nothing; with no rows the header shows what is absent
        # an all-empty table keeps its first column, so no line is blank
        keep = [i for i in range(len(fields)) if any(row[i] for row in rows)] or [0]
        fields = [fields[i] for i in keep]
        rows = [[row[i] for i in keep] for row in rows]
    headers = [f.header if options.header else "" for f in fields]
    if marks is not None:
        fields = [Field("", ""), *fields]
        headers = ["", *headers]
        rows = [[safe_text(m), *row] for m, row in zip(marks, rows, strict=True)]
    width = options.width if options.terminal and not wide else None
    sizes = [[cells(text) for text in row] for row in rows]
    while True:
        natural = [max([cells(headers[i])] + [row[i] for row in sizes]) for i in range(len(fields))]
        cut = [f.cut and not (options.full_payloads and f.kind == "payload") for f in fields]
        minimum = [max(MIN_CUT_WIDTH, cells(h)) for h in headers]
        needed = sum(min(n, m) if c else n for n, m, c in zip(natural, minimum, cut, strict=True))
        droppable = [i for i, f in enumerate(fields) if f.priority < 9]
        if width is None or needed + GAP * (len(fields) - 1) <= width or not droppable:
            break
        # the least needed column goes (the rightmost of equals)
        drop = min(droppable, key=lambda i: (fields[i].priority, -i))
        del fields[drop], headers[drop]
        rows = [row[:drop] + row[drop + 1 :] for row in rows]
        sizes = [row[:drop] + row[drop + 1 :] for row in sizes]
    widths = column_widths(natural, minimum, cut, width)
    right = [f.kind in ("int", "duration", "age") for f in fields]
    lines: list[str] = []
    if options.header:
        lines.append(_table_line(headers, widths, right, [""] * len(fields), options.color))
    for record, row in zip(records, rows, strict=True):
        styles = [
            STATUS_STYLES.get(str(record.get(f.name)), "") if f.kind == "status" else ""
            for f in fields
        ]
        lines.append(_table_line(row, widths, right, styles, options.color))
    return lines


def _table_line(
    texts: Sequence[str],
    widths: Sequence[int],
    right: Sequence[bool],
    styles: Sequence[str],
    color: bool,
) -> str:
    parts: list[str] = []
    for text, width, to_right, style in zip(texts, widths, right, styles, strict=True):
        shown = cut_to(text, width)
        pad = " " * (width - cells(shown))
        if color and style in _SGR and shown:
            shown = f"\x1b[{_SGR[style]}m{shown}\x1b[0m"
        parts.append(pad + shown if to_right else shown + pad)
    return (" " * GAP).join(parts).rstrip(" ")


def _markdown(records: list[dict[str, Any]], options: RenderOptions, out: TextIO) -> None:
    fields = options.fields
    out.write("| " + " | ".join(escape_markdown(f.name) for f in fields) + " |\n")
    out.write("|" + "|".join(" ---: " if f.kind == "int" else " --- " for f in fields) + "|\n")
    for record in records:
        cells = [markdown_cell(f, f.value(record, options.now)) for f in fields]
        out.write("| " + " | ".join(cells) + " |\n")
    out.flush()


# -- one record, or one document ----------------------------------------------------------------


def render_record(record: dict[str, Any], options: RenderOptions, out: TextIO) -> None:
    """One record as a document: ``json`` of a whole object writes the object itself, ``plain``
    writes ``field<TAB>value`` lines, ``table`` a grid of field and value; the other formats
    write it as a one-row listing."""
    if options.fmt == "json" and options.whole_objects:
        out.write(json_text(record, indent=2) + "\n")
        out.flush()
    elif options.fmt == "plain":
        for f in options.fields:
            out.write(f"{f.name}\t{escape_plain(text_value(f, f.value(record, options.now)))}\n")
        out.flush()
    elif options.fmt == "table":
        print_rich(
            out, record_grid(record, options), color=options.color, terminal=options.terminal
        )
    else:
        render([record], options, out)


def record_grid(record: dict[str, Any], options: RenderOptions) -> Any:
    """A rich grid of one record: a field's header in lower case, then its value; fields that
    hold JSON are left to the caller."""
    from rich.table import Table

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold" if options.color else "")
    grid.add_column()
    for f in options.fields:
        if f.kind == "json":
            continue
        grid.add_row(f.header.lower(), table_cell(f, f.value(record, options.now), options))
    return grid


def render_failures(groups: Sequence[FailureGroup], options: RenderOptions, out: TextIO) -> int:
    """Failed operations grouped by errorCode, in ``options.fmt`` with ``FAILURE_FIELDS``
    (``options.fields`` is ignored); returns how many groups were written."""
    from dataclasses import replace

    shown = replace(options, fields=FAILURE_FIELDS, whole_objects=False)
    return render((g.as_record() for g in groups), shown, out)
