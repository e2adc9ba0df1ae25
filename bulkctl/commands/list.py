"""``bulkctl list``: list and filter bulk processes.

The Typer function parses and checks arguments into ``ListOptions``; ``run_list`` does
the work with a ``Context``. Several statuses are one request stream per status (the
API takes one status per call), combined in the order given, de-duplicated by bulkId.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated

import typer

from bulkctl.api.records import BULK_STATUSES
from bulkctl.filters import BulkFilter, filter_options_help
from bulkctl.options import (
    AllOption,
    ConcurrencyOption,
    FieldsOption,
    JsonlOption,
    JsonOption,
    LimitOption,
    NoHeaderOption,
    OffsetOption,
    OutputChoice,
    OutputOption,
    check_concurrency,
    check_paging,
    choose_output,
    parse_statuses,
)
from bulkctl.render import BULK_ALL_FIELDS, BULK_FIELDS, BULK_TABLE_FIELDS

if TYPE_CHECKING:
    from bulkctl.api.records import BulkProcess
    from bulkctl.context import Context
    from bulkctl.paging import Pager

STATUS_HELP = (
    "Only bulks in this status; repeat or comma-separate for several "
    f"({', '.join(BULK_STATUSES)}; any case)."
)


# options shared by list, watch and summary, declared once
StatusOption = Annotated[
    list[str] | None, typer.Option("--status", "-s", help=STATUS_HELP, metavar="STATUS")
]
OperationOption = Annotated[
    str | None,
    typer.Option("--operation", help=filter_options_help["operation"], metavar="PATTERN"),
]
ModeOption = Annotated[
    str | None, typer.Option("--mode", help=filter_options_help["mode"], metavar="MODE")
]
SinceOption = Annotated[
    str | None, typer.Option("--since", help=filter_options_help["since"], metavar="WHEN")
]
UntilOption = Annotated[
    str | None, typer.Option("--until", help=filter_options_help["until"], metavar="WHEN")
]
StrictOption = Annotated[
    bool,
    typer.Option(
        "--strict", help="Exit 1 when the list shrank while paging (records may be missing)."
    ),
]


@dataclass
class ListOptions:
    statuses: list[str]
    wanted: int | None  # None: every matching record
    offset: int
    output: OutputChoice
    concurrency: int | None = None
    strict: bool = False
    filters: BulkFilter = field(default_factory=BulkFilter)


def register(app: typer.Typer) -> None:
    @app.command("list")
    def list_command(
        ctx: typer.Context,
        status: StatusOption = None,
        limit: LimitOption = None,
        offset: OffsetOption = 0,
        all_records: AllOption = False,
        output: OutputOption = None,
        json_flag: JsonOption = False,
        jsonl_flag: JsonlOption = False,
        fields: FieldsOption = None,
        no_header: NoHeaderOption = False,
        concurrency: ConcurrencyOption = None,
        strict: StrictOption = False,
        operation: OperationOption = None,
        mode: ModeOption = None,
        since: SinceOption = None,
        until: UntilOption = None,
    ) -> None:
        """List bulk processes, newest first.

        Filters other than --status are applied by bulkctl to every page the server
        sends, so they scan as many pages as they must.
        """
        from bulkctl.context import Context

        command_ctx = Context.from_process(ctx.obj)
        options = ListOptions(
            statuses=parse_statuses(status, BULK_STATUSES),
            wanted=check_paging(limit, offset, all_records),
            offset=offset,
            output=choose_output(
                output=output,
                json_flag=json_flag,
                jsonl_flag=jsonl_flag,
                fields_spec=fields,
                header=not no_header,
                stdout_tty=command_ctx.stdout_tty,
                available=BULK_ALL_FIELDS,
                default_fields=BULK_FIELDS,
                table_fields=BULK_TABLE_FIELDS,
            ),
            concurrency=check_concurrency(concurrency),
            strict=strict,
            filters=BulkFilter.parse(
                operation=operation,
                mode=mode,
                since=since,
                until=until,
                now=command_ctx.clock.now(),
            ),
        )
        try:
            run_list(command_ctx, options)
        finally:
            command_ctx.close()


@contextmanager
def matching_bulks(
    ctx: Context, options: ListOptions
) -> Iterator[tuple[Iterator[BulkProcess], Pager]]:
    """The bulks ``options`` select, in the server's order: server-side status, then the
    client-side filters, offset and limit. Shared by list, watch and summary."""
    from bulkctl.paging import listing

    client = ctx.client()
    streams: list[str | None] = [*options.statuses] or [None]
    fetches = [(lambda o, n, s=s: client.list_bulks(offset=o, limit=n, status=s)) for s in streams]
    filtering = options.filters.active
    # with client-side filters the server's rows are not the user's rows: scan, then cut
    with listing(
        fetches,
        concurrency=ctx.concurrency(options.concurrency),
        key=lambda r: r.key,
        offset=0 if filtering else options.offset,
        wanted=None if filtering else options.wanted,
        on_page=ctx.stdout.flush,
    ) as (records, pager):
        if not filtering:
            yield records, pager
            return

        def selected() -> Iterator[BulkProcess]:
            skipped = emitted = 0
            for record in records:
                if not options.filters.matches(record):
                    continue
                if skipped < options.offset:
                    skipped += 1
                    continue
                if options.wanted is not None and emitted >= options.wanted:
                    records.close()
                    return
                emitted += 1
                yield record

        yield selected(), pager


def run_list(ctx: Context, options: ListOptions) -> int:
    """Fetch, filter and render; returns the number of rows written."""
    from bulkctl.errors import ApiError
    from bulkctl.render import render

    with matching_bulks(ctx, options) as (bulks, pager):
        written = render((b.raw for b in bulks), options.output.render_options(ctx), ctx.stdout)
    report = pager.report
    if report.stopped:
        ctx.warn(f"paging {report.stopped}; the listing may be incomplete")
    if report.shrank_from is not None:
        ctx.warn(
            f"the list shrank from {report.shrank_from:,} to {report.shrank_to:,} records while "
            "it was read (bulks changed status): records may be missing"
        )
        if options.strict:
            raise ApiError("the list changed while paging and --strict is set", hint="run it again")
    if not options.filters.active and options.wanted:
        note = report.more_note(written, options.offset)
        if note:
            ctx.note(note)
    return written


run = run_list  # the name commands share after the one-shape change (tests call it)
