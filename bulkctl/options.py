"""Parsing shared by several commands: status lists, output choice, paging bounds, durations.

Everything here turns raw argument strings into checked values or raises ``UsageError``
(exit 2) before any request is sent.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import typer

from bulkctl.api.records import INT32_MAX
from bulkctl.errors import UsageError
from bulkctl.render import (
    FORMATS,
    TABLE_FORMATS,
    Field,
    RenderOptions,
    check_format,
    pick_fields,
    terminal_width,
)

if TYPE_CHECKING:
    from bulkctl.context import Context

DEFAULT_LIMIT = 20


def parse_statuses(
    values: Sequence[str] | None, allowed: Sequence[str], what: str = "status"
) -> list[str]:
    """Repeatable, comma-separated, case-insensitive; unknown values are a usage error."""
    chosen: list[str] = []
    for value in values or ():
        for part in value.split(","):
            name = part.strip().upper().replace("-", "_")
            if not name:
                continue
            if name not in allowed:
                raise UsageError(
                    f"unknown {what} {part.strip()!r}", hint=f"valid values: {', '.join(allowed)}"
                )
            if name not in chosen:
                chosen.append(name)
    return chosen


def parse_mode(value: str) -> str:
    """'on-failure-stop' or 'ON_FAILURE_STOP', any case -> 'ON_FAILURE_STOP'."""
    name = value.strip().upper().replace("-", "_")
    if name not in ("ON_FAILURE_STOP", "ON_FAILURE_CONTINUE"):
        raise UsageError(
            f"unknown mode {value!r}", hint="valid modes: on-failure-stop, on-failure-continue"
        )
    return name


@dataclass
class OutputChoice:
    fmt: str
    fields: list[Field]
    header: bool
    whole_objects: bool

    def render_options(self, ctx: Context, *, full_payloads: bool = False) -> RenderOptions:
        return RenderOptions(
            fmt=self.fmt,
            fields=self.fields,
            header=self.header,
            color=ctx.color,
            whole_objects=self.whole_objects,
            now=ctx.clock.now(),
            full_payloads=full_payloads,
            terminal=ctx.stdout_tty,
            width=terminal_width(ctx.stdout, ctx.env) if ctx.stdout_tty else None,
        )


def choose_output(
    *,
    output: str | None,
    json_flag: bool,
    jsonl_flag: bool,
    fields_spec: str | None,
    header: bool,
    stdout_tty: bool,
    available: Sequence[Field],
    default_fields: Sequence[Field],
    table_fields: Sequence[Field] | None = None,
) -> OutputChoice:
    """-o/--output, --json, --jsonl and --fields into one checked choice."""
    picked = [name for name, on in (("json", json_flag), ("jsonl", jsonl_flag)) if on]
    if output is not None:
        picked.append(check_format(output))
    if len(set(picked)) > 1:
        raise UsageError(f"choose one output format, not {' and '.join(sorted(set(picked)))}")
    fmt = picked[0] if picked else ("table" if stdout_tty else "plain")
    default = table_fields if fmt in TABLE_FORMATS and table_fields is not None else default_fields
    fields = pick_fields(fields_spec, available, default)
    whole = fmt in ("json", "jsonl") and not fields_spec
    return OutputChoice(fmt=fmt, fields=fields, header=header, whole_objects=whole)


def check_paging(limit: int | None, offset: int, all_records: bool) -> int | None:
    """The number of rows wanted (None: all), or a usage error."""
    if offset < 0 or offset > INT32_MAX:
        raise UsageError(f"--offset must be from 0 to {INT32_MAX} (got {offset})")
    if all_records:
        if limit is not None:
            raise UsageError("--all and --limit do not go together")
        return None
    if limit is None:
        return DEFAULT_LIMIT
    if limit < 1:
        raise UsageError(f"--limit must be 1 or more (got {limit})", hint="or use --all")
    return limit


def check_concurrency(value: int | None) -> int | None:
    if value is not None and not 1 <= value <= 64:
        raise UsageError(f"--concurrency must be from 1 to 64 (got {value})")
    return value


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: str, what: str = "duration") -> float:
    """'90s', '5m', '2h', '3d', or plain seconds -> seconds."""
    match = _DURATION.match(value)
    if not match:
        raise UsageError(f"invalid {what} {value!r}", hint="write it like 90s, 5m, 2h or 3d")
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


FORMAT_HELP = (
    f"Output format: {', '.join(FORMATS)} (default: table on a terminal, plain otherwise; "
    "wide: the table with every column, uncut)."
)


# options that several commands take, declared once so their names and help never drift
LimitOption = Annotated[
    int | None,
    typer.Option(
        "--limit", "-n", help="Rows wanted in all (default 20); fetched 100 a request.", metavar="N"
    ),
]
OffsetOption = Annotated[int, typer.Option("--offset", help="Skip the first N rows.", metavar="N")]
AllOption = Annotated[bool, typer.Option("--all", "-a", help="Every matching record.")]
OutputOption = Annotated[
    str | None, typer.Option("--output", "-o", help=FORMAT_HELP, metavar="FORMAT")
]
JsonOption = Annotated[
    bool,
    typer.Option(
        "--json", help="Shorthand for --output json: one JSON array, written when complete."
    ),
]
JsonlOption = Annotated[
    bool,
    typer.Option(
        "--jsonl", help="Shorthand for --output jsonl: one object a line, as pages arrive."
    ),
]
FieldsOption = Annotated[
    str | None,
    typer.Option(
        "--fields", help="Comma-separated API field names to show, in this order.", metavar="F1,F2"
    ),
]
NoHeaderOption = Annotated[
    bool, typer.Option("--no-header", help="No header row (plain, csv, table).")
]
ConcurrencyOption = Annotated[
    int | None,
    typer.Option(
        "--concurrency",
        help="Requests in flight while paging (default 8; 1 = one after another).",
        metavar="N",
    ),
]
