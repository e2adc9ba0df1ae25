"""``operations --payloads`` on a terminal: one block an operation, in the manner of
``kubectl describe``. Its sequence, status, error code, method, path and id, then both
payloads pretty-printed (JSON indented) and wrapped to the terminal, every line made safe
(server text cannot act on the terminal). Pipes and ``-o`` keep the table's columns."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterable
from typing import Any, TextIO

from bulkctl.output.fields import STATUS_STYLES, error_code_of
from bulkctl.output.tables import SGR, cells
from bulkctl.safetext import safe_text

INDENT = "    "


def pretty_payload(payload: Any) -> list[str]:
    """A payload's lines: JSON indented by two, anything else as it came; never empty."""
    if payload is None or payload == "":
        return ["(none)"]
    text = payload if isinstance(payload, str) else json.dumps(payload)
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return text.replace("\r\n", "\n").split("\n")
    try:
        return json.dumps(data, indent=2, ensure_ascii=False).split("\n")
    except (ValueError, RecursionError):
        return text.split("\n")


def wrapped(lines: Iterable[str], width: int, indent: str) -> list[str]:
    """Each line safe, indented and wrapped at ``width`` cells; a wrapped line goes on
    under its own indentation, one more step in, so JSON keeps its shape."""
    room = max(width - len(indent), 20)
    out: list[str] = []
    for line in lines:
        safe = safe_text(line)
        lead = len(safe) - len(safe.lstrip(" "))
        if cells(safe) <= room:
            out.append(indent + safe)
            continue
        parts = textwrap.wrap(
            safe,
            width=room,
            initial_indent="",
            subsequent_indent=" " * min(lead + 2, room // 2),
            break_on_hyphens=False,
            drop_whitespace=False,
            replace_whitespace=False,
        )
        out += [indent + part.rstrip(" ") for part in parts] or [indent]
    return out


def describe_operations(
    records: Iterable[dict[str, Any]], out: TextIO, *, width: int, color: bool
) -> int:
    """The blocks of ``records`` (operations as the API sent them) on ``out``; returns how
    many were written."""
    written = 0
    for record in records:
        if written:
            out.write("\n")
        out.write("".join(line + "\n" for line in operation_block(record, width, color)))
        out.flush()
        written += 1
    return written


def operation_block(record: dict[str, Any], width: int, color: bool) -> list[str]:
    """One operation's lines."""
    status = safe_text(record.get("status") or "?")
    style = STATUS_STYLES.get(str(record.get("status")), "")
    if color and style in SGR:
        status = f"\x1b[{SGR[style]}m{status}\x1b[0m"
    sequence = safe_text(record.get("sequence", "?"))
    lines = [f"operation {sequence}  {status}"]
    fields = [
        ("error code", error_code_of(record)),
        ("method", record.get("method")),
        ("path", record.get("path")),
        ("operation id", record.get("operationId")),
    ]
    for label, value in fields:
        if value is not None and value != "":
            lines.append(f"  {label:<13}{safe_text(value)}")
    for label, name in (("request", "requestPayload"), ("response", "responsePayload")):
        lines.append(f"  {label}")
        lines += wrapped(pretty_payload(record.get(name)), width, INDENT)
    return lines
