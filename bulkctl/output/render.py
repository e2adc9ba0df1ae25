"""Every output format from one path: records (API objects) and fields in, text out.

Formats: ``table`` (rich, for people), ``plain`` (tab-separated, for pipes), ``json``
(one document, written when complete), ``jsonl``, ``csv`` (RFC 4180) and ``markdown``.
Commands never print a format themselves; they hand records and fields to ``render``.
The columns are declared in ``fields``, a value's text and escapes in ``values``, the
formats programs read in ``formats``, and tables for people in ``tables``; this module is
the one entry point, and names the others' public parts for its importers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TextIO

from bulkctl.api.records import FailureGroup
from bulkctl.output.fields import (
    AGE_FIELD,
    BULK_ALL_FIELDS,
    BULK_FIELDS,
    BULK_TABLE_FIELDS,
    DURATION_FIELD,
    FAILURE_FIELDS,
    FORMATS,
    OPERATION_ALL_FIELDS,
    OPERATION_FIELDS,
    STATUS_STYLES,
    TABLE_FORMATS,
    Field,
    RenderOptions,
    check_format,
    pick_fields,
)
from bulkctl.output.formats import (
    json_line,
    json_text,
    line_writer,
    write_json,
    write_lines,
    write_markdown,
)
from bulkctl.output.tables import (
    GAP,
    MIN_CUT_WIDTH,
    cell_text,
    cells,
    column_widths,
    cut_to,
    fit_columns,
    print_rich,
    record_grid,
    table_cell,
    table_console,
    table_lines,
    terminal_width,
)
from bulkctl.output.values import (
    MODE_SHORT,
    csv_cell,
    escape_csv,
    escape_markdown,
    escape_plain,
    human_duration,
    iso_utc,
    local_time,
    markdown_cell,
    short_age,
    short_payload,
    text_value,
    unescape_plain,
)

__all__ = [
    "AGE_FIELD",
    "BULK_ALL_FIELDS",
    "BULK_FIELDS",
    "BULK_TABLE_FIELDS",
    "DURATION_FIELD",
    "FAILURE_FIELDS",
    "FORMATS",
    "GAP",
    "MIN_CUT_WIDTH",
    "MODE_SHORT",
    "OPERATION_ALL_FIELDS",
    "OPERATION_FIELDS",
    "STATUS_STYLES",
    "TABLE_FORMATS",
    "Field",
    "RenderOptions",
    "cell_text",
    "cells",
    "check_format",
    "column_widths",
    "csv_cell",
    "cut_to",
    "escape_csv",
    "escape_markdown",
    "escape_plain",
    "fit_columns",
    "human_duration",
    "iso_utc",
    "json_line",
    "json_text",
    "local_time",
    "markdown_cell",
    "pick_fields",
    "print_rich",
    "record_grid",
    "render",
    "render_failures",
    "render_record",
    "short_age",
    "short_payload",
    "table_cell",
    "table_console",
    "table_lines",
    "terminal_width",
    "text_value",
    "unescape_plain",
]


def render(records: Iterable[dict[str, Any]], options: RenderOptions, out: TextIO) -> int:
    """Write ``records`` in ``options.fmt``; returns how many were written."""
    if options.fmt == "json":
        return write_json(records, options, out)
    if options.fmt in TABLE_FORMATS:
        rows_list = list(records)
        lines = table_lines(rows_list, options)
        out.write("".join(line + "\n" for line in lines))
        out.flush()
        return len(rows_list)
    if options.fmt == "markdown":
        rows_list = list(records)
        write_markdown(rows_list, options, out)
        return len(rows_list)
    return write_lines(records, line_writer(options, out), out)


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


def render_failures(groups: Sequence[FailureGroup], options: RenderOptions, out: TextIO) -> int:
    """Failed operations grouped by errorCode, in ``options.fmt`` with ``FAILURE_FIELDS``
    (``options.fields`` is ignored); returns how many groups were written."""
    from msgspec.structs import replace

    shown = replace(options, fields=FAILURE_FIELDS, whole_objects=False)
    return render((g.as_record() for g in groups), shown, out)
