"""The formats other programs read: json, jsonl, csv, plain and markdown, a record at a time."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from typing import Any, TextIO

from bulkctl.output.fields import RenderOptions
from bulkctl.output.values import csv_cell, escape_markdown, escape_plain, markdown_cell, text_value
from bulkctl.safetext import safe_json


def _line_encoder() -> Callable[[Any], str]:
    """``JSONEncoder(ensure_ascii=False).encode``, the same text, with its C encoder made
    once rather than at every call (``jsonl`` encodes a record a line); without the C
    accelerator, or where it takes other arguments, the encoder itself."""
    encoder = json.JSONEncoder(ensure_ascii=False)
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return encoder.encode
    sample = {"a": [1, 2.5, None, True, "\u00e9\u2028"]}
    try:
        # no circular check: the values are decoded JSON and bulkctl's own dicts
        chunks = make(
            None, encoder.default, json.encoder.encode_basestring, None, ": ", ", ",
            False, False, True,
        )  # fmt: skip
        if "".join(chunks(sample, 0)) != encoder.encode(sample):
            return encoder.encode
    except TypeError:
        return encoder.encode
    join = "".join
    return lambda value: join(chunks(value, 0))


_JSON_LINE = _line_encoder()


def json_line(value: Any) -> str:
    """One JSON value on one line, exact, with DEL and C1 escaped."""
    return safe_json(_JSON_LINE(value))


def json_text(value: Any, indent: int | None = None) -> str:
    """Any JSON document bulkctl writes: exact values, DEL and C1 escaped as ``\\u00XX``."""
    return safe_json(json.dumps(value, ensure_ascii=False, indent=indent))


_JSON_INDENTED = json.JSONEncoder(ensure_ascii=False, indent=2).encode


def _json_element(value: Any) -> str:
    """``value`` as an element of a top-level array indented by 2: exactly the text that
    ``json_text([..., value, ...], indent=2)`` holds for it."""
    return "  " + safe_json(_JSON_INDENTED(value)).replace("\n", "\n  ")


def _json_object(record: dict[str, Any], options: RenderOptions) -> Any:
    if options.whole_objects:
        return record
    return {f.name: f.value(record, options.now) for f in options.fields}


def write_json(records: Iterable[dict[str, Any]], options: RenderOptions, out: TextIO) -> int:
    """One JSON array, written once complete; returns how many elements it holds."""
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


def line_writer(options: RenderOptions, out: TextIO) -> Callable[[dict[str, Any]], str]:
    """How one record becomes one line in ``jsonl``, ``csv`` or ``plain``; the header, if
    the format has one, is written to ``out`` first."""
    if options.fmt == "jsonl" and options.whole_objects:
        encode = _JSON_LINE
        return lambda record: safe_json(encode(record)) + "\n"
    if options.fmt == "jsonl":
        return lambda record: json_line(_json_object(record, options)) + "\n"
    if options.fmt == "csv":
        return _csv_writer(options, out)
    if options.header:
        out.write("\t".join(f.name for f in options.fields) + "\n")

    def line(record: dict[str, Any]) -> str:
        cells = [escape_plain(text_value(f, f.value(record, options.now))) for f in options.fields]
        return "\t".join(cells) + "\n"

    return line


def _csv_writer(options: RenderOptions, out: TextIO) -> Callable[[dict[str, Any]], str]:
    import csv  # only the csv format: a listing in another pays nothing for it

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
    return line


def write_lines(
    records: Iterable[dict[str, Any]], line: Callable[[dict[str, Any]], str], out: TextIO
) -> int:
    """Each record's line into the (buffered) stream; the caller flushes at page boundaries.
    Returns how many were written."""
    count = 0
    write = out.write
    with _buffered(out):
        try:
            for record in records:
                write(line(record))
                count += 1
        finally:
            out.flush()
    return count


@contextmanager
def _buffered(out: TextIO) -> Iterator[None]:
    """``out`` buffered while the block runs, when it writes through (``PYTHONUNBUFFERED``, or
    ``python -u``): a write call a line is a system call a line, and the caller's flushes at
    page boundaries are what keep the output streaming."""
    reconfigure = getattr(out, "reconfigure", None)
    if reconfigure is None or not getattr(out, "write_through", False):
        yield
        return
    reconfigure(write_through=False)
    try:
        yield
    finally:
        with suppress(OSError, ValueError):  # a reader gone: the caller's error tells it
            reconfigure(write_through=True)  # flushes what is left first


def write_markdown(records: list[dict[str, Any]], options: RenderOptions, out: TextIO) -> None:
    fields = options.fields
    out.write("| " + " | ".join(escape_markdown(f.name) for f in fields) + " |\n")
    out.write("|" + "|".join(" ---: " if f.kind == "int" else " --- " for f in fields) + "|\n")
    for record in records:
        cells = [markdown_cell(f, f.value(record, options.now)) for f in fields]
        out.write("| " + " | ".join(cells) + " |\n")
    out.flush()
