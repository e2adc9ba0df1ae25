"""``bulkctl show``: one bulk, its fields, its progress and its counts per operation status."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import typer

from bulkctl.api.records import BulkProcess
from bulkctl.context import Context
from bulkctl.invoke import invoke
from bulkctl.options import (
    BulkIdArgument,
    FieldsOption,
    OutputChoice,
    OutputOption,
    choose_output,
)
from bulkctl.polling import progress_numbers
from bulkctl.render import BULK_ALL_FIELDS, RenderOptions, record_grid, render_record, table_console
from bulkctl.safetext import safe_text


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
    else:
        render_record(bulk.raw, render_options, ctx.stdout)
    return 0


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
    console = table_console(ctx.stdout, color=ctx.color, terminal=ctx.stdout_tty)
    console.print(Group(*parts))


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
