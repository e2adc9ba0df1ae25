"""``bulkctl operations``: the operations of one bulk, in sequence."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import msgspec
import typer

from bulkctl.api.records import INT32_MAX, OPERATION_STATUSES, BulkOperation, group_failures
from bulkctl.cli.invoke import bound, invoke
from bulkctl.cli.options import (
    NO_FORMAT,
    NO_PAGING,
    OPERATION_STATUS_HELP,
    OPERATION_STATUS_VALUES,
    BulkIdArgument,
    ConcurrencyOption,
    FormatFlags,
    NoHeaderOption,
    OperationFieldsOption,
    OutputChoice,
    PagingFlags,
    ProgressOption,
    check_concurrency,
    check_paging,
    choose_output,
    option,
    parse_statuses,
)
from bulkctl.context import Context
from bulkctl.errors import UsageError
from bulkctl.lists.paging import listing
from bulkctl.lists.progress import parse_progress, read_progress
from bulkctl.output.describe import describe_operations
from bulkctl.output.fields import OPERATION_ALL_TABLE_FIELDS, OPERATION_TABLE_FIELDS
from bulkctl.output.pager import paged
from bulkctl.output.render import OPERATION_ALL_FIELDS, OPERATION_FIELDS, render, render_failures


@dataclass
class OperationsOptions:
    bulk_id: str
    statuses: list[str]
    sequence: int | None
    wanted: int | None
    offset: int
    output: OutputChoice
    payloads: bool = False
    concurrency: int | None = None
    errors: bool = False  # the FAILED operations grouped by errorCode, for the whole bulk
    describe: bool = False  # --payloads on a terminal without -o: one block an operation
    progress: str | None = None  # --progress: live, plain, none; None: chosen (read_mode)


def parse(
    ctx: Context,
    *,
    bulk_id: str,
    status: list[str] | None = None,
    sequence: int | None = None,
    paging: PagingFlags = NO_PAGING,
    format: FormatFlags = NO_FORMAT,
    fields: str | None = None,
    no_header: bool = False,
    payloads: bool = False,
    concurrency: int | None = None,
    errors: bool = False,
    progress: str | None = None,
) -> OperationsOptions:
    """The arguments of ``operations``, checked."""
    from bulkctl.api.client import check_bulk_id  # httpx: only once a command runs

    check_bulk_id(bulk_id)
    if sequence is not None and abs(sequence) > 2**63 - 1:
        raise UsageError("--sequence is out of range")
    statuses = parse_statuses(status, OPERATION_STATUSES, "operation status")
    if errors:
        check_errors(statuses, paging, sequence=sequence, fields=fields, payloads=payloads)
        statuses, paging = ["FAILED"], PagingFlags(all_records=True)
    default = OPERATION_ALL_FIELDS if payloads else OPERATION_FIELDS
    table = OPERATION_ALL_TABLE_FIELDS if payloads else OPERATION_TABLE_FIELDS
    chosen = format.output is not None or format.json_flag or format.jsonl_flag or fields
    return OperationsOptions(
        bulk_id=bulk_id,
        statuses=statuses,
        sequence=sequence,
        wanted=check_paging(**msgspec.structs.asdict(paging)),
        offset=min(paging.offset, INT32_MAX),
        output=choose_output(
            **msgspec.structs.asdict(format),
            fields_spec=fields,
            header=not no_header,
            stdout_tty=ctx.stdout_tty,
            available=OPERATION_ALL_FIELDS,
            default_fields=default,
            table_fields=table,
        ),
        payloads=payloads,
        concurrency=check_concurrency(concurrency),
        errors=errors,
        describe=payloads and ctx.stdout_tty and not chosen,
        progress=parse_progress(progress),
    )


def check_errors(
    statuses: list[str],
    paging: PagingFlags,
    *,
    sequence: int | None,
    fields: str | None,
    payloads: bool,
) -> None:
    """``--errors`` reads every FAILED operation: a narrower choice beside it is refused."""
    if statuses not in ([], ["FAILED"]):
        raise UsageError(
            "--errors groups the FAILED operations", hint="use it with --status failed"
        )
    clashes = [
        name
        for name, given in (
            ("--limit", paging.limit is not None),
            ("--offset", paging.offset != 0),
            ("--all", paging.all_records),
            ("--sequence", sequence is not None),
            ("--fields", fields is not None),
            ("--payloads", payloads),
        )
        if given
    ]
    if clashes:
        raise UsageError(
            f"--errors reads every failed operation of the bulk; {clashes[0]} does not apply"
        )


def run(ctx: Context, options: OperationsOptions) -> int:
    """Page through the operations and render them."""
    concurrency = ctx.concurrency(options.concurrency)
    client = ctx.client()
    streams: list[str | None] = [*options.statuses] or [None]
    fetches = [
        (
            lambda o, n, s=s: client.list_operations(
                options.bulk_id, offset=o, limit=n, status=s, sequence=options.sequence
            )
        )
        for s in streams
    ]
    full = options.payloads or options.output.fmt != "table"
    what = "failed operations" if options.errors else "operations"
    progress = read_progress(ctx, what, mode=options.progress)
    with (
        paged(ctx),
        progress as counter,
        listing(
            [counter.counted(f, i) for i, f in enumerate(fetches)],
            concurrency=concurrency,
            key=lambda op: op.key,
            offset=options.offset,
            wanted=options.wanted,
            on_page=ctx.stdout.flush,
        ) as (records, pager),
    ):
        counter.bound(options.offset, options.wanted)
        render_options = options.output.render_options(ctx, full_payloads=full)
        if options.errors:
            operations: list[BulkOperation] = list(records)
            written = render_failures(group_failures(operations), render_options, ctx.stdout)
            if not written:
                ctx.note(f"no failed operations in bulk {options.bulk_id}")
            return 0
        rows = (op.raw for op in records)
        if options.describe:
            width = render_options.width or 80
            written = describe_operations(rows, ctx.stdout, width=width, color=ctx.color)
        else:
            written = render(rows, render_options, ctx.stdout)
    if not written:
        ctx.note(f"no operations match in bulk {options.bulk_id}")
    note = pager.report.more_note(written, options.offset) if options.wanted else None
    if note:
        ctx.note(note)
    return 0


PayloadsOption = Annotated[
    bool,
    typer.Option(
        "--payloads",
        help="Request and response payloads in full: on a terminal one block an operation, pretty-printed; with -o or in a pipe, as columns.",
    ),
]


@bound
def command(
    ctx: typer.Context,
    bulk_id: BulkIdArgument,
    status: Annotated[
        list[str] | None,
        option(
            "--status",
            "-s",
            help=OPERATION_STATUS_HELP,
            metavar="STATUS",
            values=OPERATION_STATUS_VALUES,
        ),
    ] = None,
    sequence: Annotated[
        int | None,
        typer.Option("--sequence", help="Only the operation at this position.", metavar="N"),
    ] = None,
    paging: PagingFlags = NO_PAGING,
    format: FormatFlags = NO_FORMAT,
    fields: OperationFieldsOption = None,
    no_header: NoHeaderOption = False,
    payloads: PayloadsOption = False,
    concurrency: ConcurrencyOption = None,
    errors: Annotated[
        bool,
        typer.Option(
            "--errors",
            help="Every FAILED operation of the bulk, grouped by errorCode: count and one example message each (read from responsePayload).",
        ),
    ] = False,
    progress: ProgressOption = None,
) -> None:
    """List the operations of one bulk, in sequence.

    What failed in bulk 123?  bulkctl operations 123 --status failed --errors

    A table has an ERROR CODE column where response payloads carry one.
    """
    invoke(
        ctx,
        lambda c: parse(
            c,
            bulk_id=bulk_id,
            status=status,
            sequence=sequence,
            paging=paging,
            format=format,
            fields=fields,
            no_header=no_header,
            payloads=payloads,
            concurrency=concurrency,
            errors=errors,
            progress=progress,
        ),
        run,
    )
