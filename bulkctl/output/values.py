"""One value as text: times, ages, durations, modes, payload gists, and each format's escapes.

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
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from bulkctl.output.fields import Field
from bulkctl.safetext import safe_text


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
