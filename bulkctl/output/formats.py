"""The formats other programs read: json, jsonl, csv, plain and markdown, a record at a time."""

from __future__ import annotations

import json
from typing import Any, TextIO

from bulkctl.output.fields import RenderOptions
from bulkctl.output.values import escape_markdown, markdown_cell
from bulkctl.safetext import safe_json

_JSON_LINE = json.JSONEncoder(ensure_ascii=False).encode


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


def write_markdown(records: list[dict[str, Any]], options: RenderOptions, out: TextIO) -> None:
    fields = options.fields
    out.write("| " + " | ".join(escape_markdown(f.name) for f in fields) + " |\n")
    out.write("|" + "|".join(" ---: " if f.kind == "int" else " --- " for f in fields) + "|\n")
    for record in records:
        cells = [markdown_cell(f, f.value(record, options.now)) for f in fields]
        out.write("| " + " | ".join(cells) + " |\n")
    out.flush()
