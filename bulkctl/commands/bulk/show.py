"""``bulkctl show``: one bulk, its fields, its progress and its counts per operation status."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
import typer

from bulkctl.api.records import BulkProcess, FailureGroup, group_failures
from bulkctl.cli.invoke import invoke
from bulkctl.cli.options import (
    BulkIdArgument,
    FieldsOption,
    OutputChoice,
    OutputOption,
    choose_output,
)
from bulkctl.context import Context
from bulkctl.errors import fit_commands
from bulkctl.output.outcome import outcome_line, outcome_of, rate_and_eta
from bulkctl.output.pager import paged
from bulkctl.output.render import (
    BULK_ALL_FIELDS,
    Field,
    RenderOptions,
    print_rich,
    render_failures,
    render_record,
    table_cell,
    terminal_width,
)
from bulkctl.safetext import safe_text

# a bulk in one of these ends with "why did it fail": its failed operations by errorCode
FAILED_STATUSES = ("FAILED", "PARTIALLY_COMPLETED")
FAILURES_READ = 100  # one page of FAILED operations: one request, never the whole bulk


@dataclass
class ShowOptions:
    bulk_id: str
    output: OutputChoice


def parse(
    ctx: Context,
    *,
    bulk_id: str,
    output: str | None = None,
    json_flag: bool = False,
    fields: str | None = None,
) -> ShowOptions:
    """The arguments of ``show``, checked."""
    from bulkctl.api.client import check_bulk_id  # httpx: only once a command runs

    check_bulk_id(bulk_id)
    choice = choose_output(
        output=output,
        json_flag=json_flag,
        jsonl_flag=False,
        fields_spec=fields,
        header=True,
        stdout_tty=ctx.stdout_tty,
        available=BULK_ALL_FIELDS,
        default_fields=BULK_ALL_FIELDS,
    )
    return ShowOptions(bulk_id=bulk_id, output=choice)


def run(ctx: Context, options: ShowOptions) -> int:
    """Fetch the bulk and write it in the chosen format."""
    bulk = ctx.client().get_bulk(options.bulk_id)
    choice = options.output
    render_options = RenderOptions(
        fmt=choice.fmt,
        fields=choice.fields,
        header=choice.header,
        whole_objects=choice.whole_objects,
        now=ctx.clock.now(),
        color=ctx.color if choice.fmt == "table" else False,
        terminal=ctx.stdout_tty,
        width=terminal_width(ctx.stdout, ctx.env) if ctx.stdout_tty else None,
    )
    if choice.fmt == "table":
        failures = None
        if bulk.status in FAILED_STATUSES:
            failures = read_failures(ctx, options.bulk_id)
        with paged(ctx):
            _show_table(ctx, bulk, render_options, failures)
    else:
        render_record(bulk.raw, render_options, ctx.stdout)
        failed = failed_count(bulk)
        if bulk.status in FAILED_STATUSES and failed and choice.fmt not in ("json", "jsonl"):
            ctx.note(f"{failed:,} operations failed; see: {errors_command(ctx, options.bulk_id)}")
    return 0


def failed_count(bulk: BulkProcess) -> int | None:
    """The FAILED entry of the bulk's operationStatusCounts, None when it has none."""
    for entry in bulk.operation_status_counts:
        if entry.status == "FAILED":
            return entry.count
    return None


def errors_command(ctx: Context, bulk_id: str) -> str:
    """The next command to run: every failed operation of the bulk, grouped by errorCode."""
    return ctx.settings().command(f"operations {bulk_id} --status failed --errors")


def read_failures(ctx: Context, bulk_id: str) -> tuple[list[FailureGroup], int, int | None]:
    """The first page of FAILED operations grouped by errorCode: (groups, operations read,
    how many FAILED operations the server counts, None when it does not say)."""
    page = ctx.client().list_operations(bulk_id, offset=0, limit=FAILURES_READ, status="FAILED")
    return group_failures(page.records), len(page.records), page.count


def failures_heading(read: int, total: int | None) -> str:
    """'failed operations by errorCode' and, when there are more than were read, 'N of M'."""
    heading = "failed operations by errorCode"
    if total is not None and total > read:
        return f"{heading} (the first {read:,} of {total:,})"
    return f"{heading} ({read:,})"


HEAD_FIELDS = ("bulkId", "status", "operation")  # before the progress, the failures first
GROUPS_SHOWN = 5  # failure groups shown whole: the status, counts and groups fit 15 lines


def _show_table(
    ctx: Context,
    bulk: BulkProcess,
    options: RenderOptions,
    failures: tuple[list[FailureGroup], int, int | None] | None,
) -> None:
    """Failures first, so all that matters fits a 24-row screen: the bulk's id, status and
    operation, its progress by outcome (rate and ETA while it runs), the failed operations
    grouped by errorCode; then its other fields and its counts per operation status."""
    from rich.text import Text

    width = options.width or 100
    shown = [f for f in options.fields if f.kind != "json"]
    head = [f for f in shown if f.name in HEAD_FIELDS]
    rest = [f for f in shown if f.name not in HEAD_FIELDS]
    labels = [f.header.lower() for f in shown] + ["progress", "rate"]
    label_width = max(len(label) for label in labels)
    rows = [_field_row(f, bulk, options) for f in head]
    outcome = outcome_of(bulk)
    rows.append(("progress", outcome_line(outcome, width - label_width - 2)))
    if bulk.status == "RUNNING":
        pace = rate_and_eta(outcome, bulk.execution_start, options.now)
        if pace:
            rows.append(("rate", Text(pace)))
    parts: list[Any] = [_grid(rows, label_width, options.color)]
    if failures is not None:
        parts += _failure_parts(ctx, bulk, failures, options)
    if rest:
        rest_rows = [_field_row(f, bulk, options) for f in rest]
        parts += [Text(""), _grid(rest_rows, label_width, options.color)]
    if bulk.operation_status_counts:
        parts += [Text(""), Text("operations by status"), _counts_grid(bulk)]
    _print_parts(ctx, parts, options.color)


def _print_parts(ctx: Context, parts: list[Any], color: bool) -> None:
    """Rich renderables through rich; a str is a line written as it is."""
    from rich.console import Group

    pending: list[Any] = []
    for part in [*parts, None]:
        if isinstance(part, str) or part is None:
            if pending:
                print_rich(ctx.stdout, Group(*pending), color=color, terminal=ctx.stdout_tty)
                pending = []
            if part is not None:
                print(part, file=ctx.stdout)
        else:
            pending.append(part)


def _field_row(f: Field, bulk: BulkProcess, options: RenderOptions) -> tuple[str, Any]:
    return f.header.lower(), table_cell(f, f.value(bulk.raw, options.now), options)


def _grid(rows: list[tuple[str, Any]], label_width: int, color: bool) -> Any:
    """Labels and values, the labels of every grid of ``show`` as wide as each other."""
    from rich.table import Table

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold" if color else "", min_width=label_width)
    grid.add_column()
    for label, value in rows:
        grid.add_row(label, value)
    return grid


def _counts_grid(bulk: BulkProcess) -> Any:
    from rich.table import Table

    counts = Table.grid(padding=(0, 2))
    counts.add_column()
    counts.add_column(justify="right")
    for entry in bulk.operation_status_counts:
        counts.add_row(
            safe_text(entry.status or "?"), "" if entry.count is None else f"{entry.count:,}"
        )
    return counts


def _failure_parts(
    ctx: Context,
    bulk: BulkProcess,
    failures: tuple[list[FailureGroup], int, int | None],
    options: RenderOptions,
) -> list[Any]:
    """Why it failed: the first page of FAILED operations grouped by errorCode (the most
    frequent GROUPS_SHOWN), and the command that groups them all (the way ``gh run view``
    points to ``--log-failed``)."""
    import io

    from rich.text import Text

    groups, read, total = failures
    if total is None:
        total = failed_count(bulk)
    if not groups:
        return [Text(""), Text("no failed operations listed")]
    table = io.StringIO()
    render_failures(groups[:GROUPS_SHOWN], msgspec.structs.replace(options, fields=()), table)
    lines: list[Any] = [Text(""), Text(failures_heading(read, total))]
    lines.append(Text.from_ansi(table.getvalue().rstrip("\n"), no_wrap=True))
    if len(groups) > GROUPS_SHOWN:
        lines.append(Text(f"… and {len(groups) - GROUPS_SHOWN:,} more error codes"))
    # a command to copy is never wrapped nor cut: written as it is, even past the edge
    lines += fit_commands(f"next: {errors_command(ctx, bulk.bulk_id or '')}", options.width or 0)
    return lines


def command(
    ctx: typer.Context,
    bulk_id: BulkIdArgument,
    output: OutputOption = None,
    json_flag: Annotated[bool, typer.Option("--json", help="The API's object as it is.")] = False,
    fields: FieldsOption = None,
) -> None:
    """Show one bulk: its status, progress by outcome and failures first, then its fields.

    Piped, it prints field<TAB>value lines.
    """
    invoke(
        ctx,
        lambda c: parse(c, bulk_id=bulk_id, output=output, json_flag=json_flag, fields=fields),
        run,
    )
