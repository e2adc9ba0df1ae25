"""Every output format from one path: records (API objects) and fields in, text out.

Formats: ``table`` (rich, for people), ``plain`` (tab-separated, for pipes), ``json``
(one document, written when complete), ``jsonl``, ``csv`` (RFC 4180) and ``markdown``.
Commands never print a format themselves; they hand records and fields to ``render``.

Values that contain a format's separators are escaped so each format parses back to
the same values: plain writes ``\\``, tab, newline and carriage return as ``\\\\``,
``\\t``, ``\\n`` and ``\\r``; csv quotes; markdown escapes ``|`` and writes newlines as
``<br>``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from bulkctl.errors import UsageError

FORMATS: tuple[str, ...] = ("table", "plain", "json", "jsonl", "csv", "markdown")
# one encoder for every row: json.dumps builds a new one per call when given options
JSON_LINE = json.JSONEncoder(ensure_ascii=False).encode

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
    kind: str = "text"  # text, status, int, time, duration, payload, json
    derive: Callable[[dict[str, Any], float], Any] | None = None

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


BULK_FIELDS: tuple[Field, ...] = (
    Field("bulkId", "BULK ID"),
    Field("status", "STATUS", "status"),
    Field("operation", "OPERATION"),
    Field("submittedItemsCount", "ITEMS", "int"),
    Field("mode", "MODE"),
    Field("executionStart", "STARTED", "time"),
    Field("executionFinish", "FINISHED", "time"),
)
DURATION_FIELD = Field("duration", "DURATION", "duration", derive=_duration)
BULK_TABLE_FIELDS: tuple[Field, ...] = (*BULK_FIELDS, DURATION_FIELD)
BULK_ALL_FIELDS: tuple[Field, ...] = (
    *BULK_TABLE_FIELDS,
    Field("operationStatusCounts", "OPERATION COUNTS", "json"),
)

OPERATION_FIELDS: tuple[Field, ...] = (
    Field("sequence", "SEQ", "int"),
    Field("status", "STATUS", "status"),
    Field("method", "METHOD"),
    Field("path", "PATH"),
    Field("operationId", "OPERATION ID"),
    Field("responsePayload", "RESPONSE", "payload"),
)
OPERATION_ALL_FIELDS: tuple[Field, ...] = (
    *OPERATION_FIELDS[:5],
    Field("requestPayload", "REQUEST", "payload"),
    OPERATION_FIELDS[5],
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
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{abs(ms) % 1000:03d}Z"


def local_time(ms: Any) -> str | None:
    if not isinstance(ms, int) or isinstance(ms, bool):
        return None
    try:
        return datetime.fromtimestamp(ms / 1000).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except (OverflowError, ValueError, OSError):
        return None


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
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def unescape_plain(text: str) -> str:
    """The inverse of ``escape_plain``, for readers of plain output (and the tests)."""
    out: list[str] = []
    chars = iter(text)
    for ch in chars:
        if ch != "\\":
            out.append(ch)
            continue
        nxt = next(chars, "")
        out.append({"t": "\t", "n": "\n", "r": "\r", "\\": "\\"}.get(nxt, "\\" + nxt))
    return "".join(out)


def escape_markdown(text: str) -> str:
    return (
        text.replace("\\", "\\\\")
        .replace("|", "\\|")
        .replace("\r\n", "<br>")
        .replace("\n", "<br>")
        .replace("\r", "<br>")
    )


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


def render(records: Iterable[dict[str, Any]], options: RenderOptions, out: TextIO) -> int:
    """Write ``records`` in ``options.fmt``; returns how many were written."""
    fmt = options.fmt
    if fmt == "json":
        rows = [_json_object(r, options) for r in records]
        json.dump(rows, out, ensure_ascii=False, indent=2)
        out.write("\n")
        out.flush()
        return len(rows)
    if fmt == "table":
        rows_list = list(records)
        _table(rows_list, options, out)
        return len(rows_list)
    if fmt == "markdown":
        rows_list = list(records)
        _markdown(rows_list, options, out)
        return len(rows_list)
    line: Callable[[dict[str, Any]], str]
    if fmt == "jsonl":

        def line(record: dict[str, Any]) -> str:
            return JSON_LINE(_json_object(record, options)) + "\n"

    elif fmt == "csv":
        buffer = io.StringIO()
        sheet = csv.writer(buffer, lineterminator="\r\n")

        def line(record: dict[str, Any]) -> str:
            buffer.seek(0)
            buffer.truncate()
            sheet.writerow([text_value(f, f.value(record, options.now)) for f in options.fields])
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


def _json_object(record: dict[str, Any], options: RenderOptions) -> Any:
    if options.whole_objects:
        return record
    return {f.name: f.value(record, options.now) for f in options.fields}


def table_cell(field: Field, value: Any, options: RenderOptions) -> Any:
    from rich.text import Text

    if field.kind == "status" and isinstance(value, str):
        return Text(value, style=STATUS_STYLES.get(value, "") if options.color else "")
    if field.kind == "time":
        shown = local_time(value)
        return Text(shown if shown is not None else text_value(field, value))
    if field.kind == "duration":
        return Text(human_duration(value))
    if field.kind == "int" and isinstance(value, int) and not isinstance(value, bool):
        return Text(f"{value:,}")
    if field.kind == "payload" and not options.full_payloads:
        return Text(short_payload(value))
    return Text(text_value(field, value))


def _table(records: list[dict[str, Any]], options: RenderOptions, out: TextIO) -> None:
    from rich import box
    from rich.table import Table

    console = table_console(out, color=options.color, terminal=options.terminal)
    table = Table(box=box.SIMPLE_HEAD, show_header=options.header, pad_edge=False)
    for f in options.fields:
        right = f.kind in ("int", "duration")
        table.add_column(f.header, justify="right" if right else "left", overflow="fold")
    for record in records:
        table.add_row(
            *[table_cell(f, f.value(record, options.now), options) for f in options.fields]
        )
    console.print(table)


def _markdown(records: list[dict[str, Any]], options: RenderOptions, out: TextIO) -> None:
    fields = options.fields
    out.write("| " + " | ".join(escape_markdown(f.name) for f in fields) + " |\n")
    out.write("|" + "|".join(" ---: " if f.kind == "int" else " --- " for f in fields) + "|\n")
    for record in records:
        cells = [escape_markdown(text_value(f, f.value(record, options.now))) for f in fields]
        out.write("| " + " | ".join(cells) + " |\n")
    out.flush()


# -- one record, or one document ----------------------------------------------------------------


def render_record(record: dict[str, Any], options: RenderOptions, out: TextIO) -> None:
    """One record as a document: ``json`` of a whole object writes the object itself, ``plain``
    writes ``field<TAB>value`` lines, ``table`` a grid of field and value; the other formats
    write it as a one-row listing."""
    if options.fmt == "json" and options.whole_objects:
        json.dump(record, out, ensure_ascii=False, indent=2)
        out.write("\n")
        out.flush()
    elif options.fmt == "plain":
        for f in options.fields:
            out.write(f"{f.name}\t{escape_plain(text_value(f, f.value(record, options.now)))}\n")
        out.flush()
    elif options.fmt == "table":
        table_console(out, color=options.color, terminal=options.terminal).print(
            record_grid(record, options)
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
