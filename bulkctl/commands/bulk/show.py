"""``bulkctl show``: one bulk, its fields, its progress and its counts per operation status."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

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
from bulkctl.output.render import (
    BULK_ALL_FIELDS,
    RenderOptions,
    print_rich,
    record_grid,
    render_failures,
    render_record,
    terminal_width,
)
from bulkctl.safetext import safe_text
from bulkctl.waiting.polling import progress_numbers

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
    )
    if choice.fmt == "table":
        _show_table(ctx, bulk, render_options)
        if bulk.status in FAILED_STATUSES:
            _show_failures(ctx, bulk, options.bulk_id)
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


def _show_failures(ctx: Context, bulk: BulkProcess, bulk_id: str) -> None:
    """Why it failed: the first page of FAILED operations grouped by errorCode, and the
    command that groups them all (the way ``gh run view`` points to ``--log-failed``)."""
    groups, read, total = read_failures(ctx, bulk_id)
    if total is None:
        total = failed_count(bulk)
    out = ctx.stdout
    if not groups:
        print("\nno failed operations listed", file=out)
        return
    print(f"\n{failures_heading(read, total)}", file=out)
    options = RenderOptions(
        fmt="table",
        fields=(),
        color=ctx.color,
        terminal=ctx.stdout_tty,
        width=terminal_width(out, ctx.env) if ctx.stdout_tty else None,
    )
    render_failures(groups, options, out)
    print(
        "\n" + "\n".join(fit_commands(f"next: {errors_command(ctx, bulk_id)}", options.width or 0)),
        file=out,
    )


def _show_table(ctx: Context, bulk: BulkProcess, options: RenderOptions) -> None:
    """The record's grid, then a progress bar and the counts per operation status."""
    from rich.console import Group
    from rich.progress_bar import ProgressBar
    from rich.table import Table
    from rich.text import Text

    done, total = progress_numbers(bulk)
    parts: list[Any] = [record_grid(bulk.raw, options), Text("")]
    if total is None:
        parts.append(Text(f"progress: {done:,} done (total unknown)"))
    else:
        bar = ProgressBar(total=total, completed=min(done, total), width=40)
        row = Table.grid(padding=(0, 1))
        row.add_row(
            Text("progress"),
            bar,
            Text(f"{done:,} / {total:,} ({100 * min(done, total) / total:.0f}%)"),
        )
        parts.append(row)
    if bulk.operation_status_counts:
        counts = Table.grid(padding=(0, 2))
        counts.add_column()
        counts.add_column(justify="right")
        for entry in bulk.operation_status_counts:
            counts.add_row(
                safe_text(entry.status or "?"), "" if entry.count is None else f"{entry.count:,}"
            )
        parts += [Text(""), Text("operations by status"), counts]
    print_rich(ctx.stdout, Group(*parts), color=ctx.color, terminal=ctx.stdout_tty)


def command(
    ctx: typer.Context,
    bulk_id: BulkIdArgument,
    output: OutputOption = None,
    json_flag: Annotated[bool, typer.Option("--json", help="The API's object as it is.")] = False,
    fields: FieldsOption = None,
) -> None:
    """Show one bulk: its fields, a progress bar, and counts per operation status.

    Piped, it prints field<TAB>value lines.
    """
    invoke(
        ctx,
        lambda c: parse(c, bulk_id=bulk_id, output=output, json_flag=json_flag, fields=fields),
        run,
    )
