"""Tables for people: the terminal's width, cells and cutting, column widths, table lines.

Tables are laid out once, here, from the terminal width: ids and statuses keep their
natural width, the columns that may give way (``Field.cut``) share what is left, and the
least needed columns (``Field.priority``) are dropped when even that does not fit.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from bulkctl.output.fields import STATUS_STYLES, Field, RenderOptions
from bulkctl.output.values import (
    MODE_SHORT,
    human_duration,
    local_time,
    short_age,
    short_payload,
    text_value,
)
from bulkctl.safetext import safe_text


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


_SGR = {"green": "32", "yellow": "33", "bold red": "1;31", "magenta": "35", "cyan": "36"}
_SGR |= {"blue": "34", "bold yellow": "1;33", "bold": "1"}
SGR = _SGR  # a style's colour code, for the other views of this package
# statuses a narrow table abbreviates (the legend is in the --help of the commands with tables)
STATUS_SHORT = {"PARTIALLY_COMPLETED": "PARTIAL"}
STATUS_LEGEND = "PARTIAL is PARTIALLY_COMPLETED in a table too narrow for it."
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


def cut_path(text: str, width: int) -> str:
    """A path in at most ``width`` cells, cut in the middle at segment boundaries so its end,
    which tells kinds apart, stays: ``/managed_cards/…/unblock``, ``/…/{id}/unblock``. A path
    of one segment is cut at its end, after a ``_`` when one is near (``/outgoing_wire_…``)."""
    if cells(text) <= width:
        return text
    parts = text.split("/")
    best = ""
    for head in range(1, len(parts) - 1):
        for tail in range(1, len(parts) - head):
            end = "/".join(parts[len(parts) - tail :])
            shown = "/".join(parts[:head]) + "/…/" + end
            if end.strip("/") and cells(best) < cells(shown) <= width:
                best = shown
    if best:
        return best
    cut = cut_to(text, width)
    if not text.isascii() or len(parts) > 2:
        return cut
    at = text.rfind("_", 0, width - 1)
    return text[: at + 1] + "…" if at >= width // 2 else cut


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
    if width is not None and _natural(headers, sizes) > width:  # narrow: statuses abbreviated
        rows = _abbreviated(fields, rows)
        headers = [STATUS_SHORT.get(h, h) for h in headers]  # summary -A: a column a status
        sizes = [[cells(text) for text in row] for row in rows]
    keep, widths = fit_columns(fields, headers, sizes, width, full_payloads=options.full_payloads)
    fields = [fields[i] for i in keep]
    headers = [headers[i] for i in keep]
    rows = [[row[i] for i in keep] for row in rows]
    right = [f.right for f in fields]
    paths = [f.kind == "path" for f in fields]
    lines: list[str] = []
    if options.header:
        plain = [""] * len(fields)
        lines.append(
            _table_line(headers, widths, right, plain, options.color, [False] * len(fields))
        )
    for record, row in zip(records, rows, strict=True):
        styles = [
            STATUS_STYLES.get(str(record.get(f.name)), "") if f.kind == "status" else ""
            for f in fields
        ]
        lines.append(_table_line(row, widths, right, styles, options.color, paths))
    return lines


def _abbreviated(fields: Sequence[Field], rows: list[list[str]]) -> list[list[str]]:
    """The rows with their statuses in STATUS_SHORT's abbreviations."""
    return [
        [
            STATUS_SHORT.get(t, t) if f.kind == "status" else t
            for f, t in zip(fields, row, strict=True)
        ]
        for row in rows
    ]


def _natural(headers: Sequence[str], sizes: Sequence[Sequence[int]]) -> int:
    """The width of a table whose every column has its natural width."""
    widths = [max([cells(h)] + [row[i] for row in sizes]) for i, h in enumerate(headers)]
    return sum(widths) + GAP * (len(widths) - 1)


def fit_columns(
    fields: Sequence[Field],
    headers: Sequence[str],
    sizes: Sequence[Sequence[int]],
    width: int | None,
    *,
    full_payloads: bool = False,
) -> tuple[list[int], list[int]]:
    """Which columns a table of ``width`` cells keeps (their indexes), and how wide each is.

    ``sizes`` holds each cell's width, a row a list. When the columns cannot fit even with
    the cuttable ones at their minimum, the lowest ``Field.priority`` goes first (the
    rightmost of equals); a column of priority 0 repeats another and goes before any column
    is cut. ``width`` None keeps every column at its natural width. The
    commands' tables and the ui's main table are laid out by this one rule.
    """
    keep = list(range(len(fields)))
    while True:
        natural = [max([cells(headers[i])] + [row[i] for row in sizes]) for i in keep]
        cut = [fields[i].cut and not (full_payloads and fields[i].kind == "payload") for i in keep]
        minimum = [max(MIN_CUT_WIDTH, cells(headers[i])) for i in keep]
        needed = sum(min(n, m) if c else n for n, m, c in zip(natural, minimum, cut, strict=True))
        droppable = [k for k, i in enumerate(keep) if fields[i].priority < 9]
        repeats = [k for k, i in enumerate(keep) if fields[i].priority == 0]
        if width is not None and repeats and sum(natural) + GAP * (len(keep) - 1) > width:
            del keep[repeats[-1]]  # a column that repeats another goes before any is cut
            continue
        if width is None or needed + GAP * (len(keep) - 1) <= width or not droppable:
            return keep, column_widths(natural, minimum, cut, width)
        del keep[min(droppable, key=lambda k: (fields[keep[k]].priority, -k))]


def _table_line(
    texts: Sequence[str],
    widths: Sequence[int],
    right: Sequence[bool],
    styles: Sequence[str],
    color: bool,
    paths: Sequence[bool],
) -> str:
    parts: list[str] = []
    for text, width, to_right, style, path in zip(texts, widths, right, styles, paths, strict=True):
        shown = cut_path(text, width) if path else cut_to(text, width)
        pad = " " * (width - cells(shown))
        if color and style in _SGR and shown:
            shown = f"\x1b[{_SGR[style]}m{shown}\x1b[0m"
        parts.append(pad + shown if to_right else shown + pad)
    return (" " * GAP).join(parts).rstrip(" ")


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
