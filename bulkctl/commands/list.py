"""``bulkctl list``: list and filter bulk processes.

Several statuses are one request stream per status (the API takes one status per call),
merged newest first on bulkId, de-duplicated by bulkId.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field

import msgspec
import typer

from bulkctl.api.records import BULK_STATUSES
from bulkctl.cli.invoke import bound, invoke
from bulkctl.cli.options import (
    NO_FLEET,
    NO_FORMAT,
    NO_PAGING,
    ConcurrencyOption,
    FieldsOption,
    FleetFlags,
    FormatFlags,
    ModeOption,
    NoHeaderOption,
    OperationOption,
    OutputChoice,
    PagingFlags,
    ProgressOption,
    SinceOption,
    StatusOption,
    StrictOption,
    UntilOption,
    check_concurrency,
    check_paging,
    choose_output,
    parse_statuses,
)
from bulkctl.context import Context
from bulkctl.errors import ApiError
from bulkctl.lists.filters import BulkFilter
from bulkctl.lists.fleet import Fleet, list_fleet, parse_fleet
from bulkctl.lists.matching import matching_bulks
from bulkctl.lists.progress import parse_progress, read_progress
from bulkctl.output.fields import DONE_FIELD, fleet_fields
from bulkctl.output.pager import paged
from bulkctl.output.render import BULK_ALL_FIELDS, BULK_FIELDS, BULK_TABLE_FIELDS, render

# the terminal's table: list's columns and DONE, n/total of running and paused bulks
LIST_TABLE_FIELDS = (*BULK_TABLE_FIELDS[:3], DONE_FIELD, *BULK_TABLE_FIELDS[3:])


@dataclass
class ListOptions:
    statuses: list[str]
    wanted: int | None  # None: every matching record
    offset: int
    output: OutputChoice
    concurrency: int | None = None
    strict: bool = False
    filters: BulkFilter = field(default_factory=BulkFilter)
    fleet: Fleet = field(default_factory=Fleet)
    progress: str | None = None  # --progress: live, plain, none; None: chosen (read_mode)


def parse(
    ctx: Context,
    *,
    status: list[str] | None = None,
    paging: PagingFlags = NO_PAGING,
    format: FormatFlags = NO_FORMAT,
    fields: str | None = None,
    no_header: bool = False,
    concurrency: int | None = None,
    strict: bool = False,
    operation: str | None = None,
    mode: str | None = None,
    since: str | None = None,
    until: str | None = None,
    fleet: FleetFlags = NO_FLEET,
    progress: str | None = None,
) -> ListOptions:
    """The arguments of ``list``, checked; a ``UsageError`` names the first wrong one."""
    chosen = parse_fleet(ctx, **msgspec.structs.asdict(fleet))
    first = fleet_fields(chosen.by_profile, bool(chosen.identities))  # PROFILE, IDENTITY
    return ListOptions(
        statuses=parse_statuses(status, BULK_STATUSES),
        wanted=check_paging(**msgspec.structs.asdict(paging)),
        offset=paging.offset,
        output=choose_output(
            **msgspec.structs.asdict(format),
            fields_spec=fields,
            header=not no_header,
            stdout_tty=ctx.stdout_tty,
            available=(*first, *BULK_ALL_FIELDS),
            default_fields=(*first, *BULK_FIELDS),
            table_fields=(*first, *LIST_TABLE_FIELDS),
        ),
        concurrency=check_concurrency(concurrency),
        strict=strict,
        filters=BulkFilter.parse(
            operation=operation, mode=mode, since=since, until=until, now=ctx.clock.now()
        ),
        fleet=chosen,
        progress=parse_progress(progress),
    )


def run(ctx: Context, options: ListOptions) -> int:
    """Fetch, filter and render; returns 0 (the number of rows is in the output), or a
    fleet's worst exit code."""
    if options.fleet.active:
        with paged(ctx):
            return list_fleet(ctx, options.fleet, options, options.output, options.progress)
    long = paged(ctx) if options.wanted is None else nullcontext()  # list --all
    with (
        long,
        read_progress(ctx, "bulks", mode=options.progress) as progress,
        matching_bulks(ctx, options, progress) as (bulks, pager),
    ):
        written = render((b.raw for b in bulks), options.output.render_options(ctx), ctx.stdout)
    report = pager.report
    if not written:  # kubectl's "No resources found": an empty table is not a broken one
        ctx.note(
            "no bulks match" if options.statuses or options.filters.active else "no bulks found"
        )
    order_note = report.order_note(options.statuses)
    if order_note:
        ctx.note(order_note)
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
    return 0


@bound
def command(
    ctx: typer.Context,
    status: StatusOption = None,
    paging: PagingFlags = NO_PAGING,
    format: FormatFlags = NO_FORMAT,
    fields: FieldsOption = None,
    no_header: NoHeaderOption = False,
    concurrency: ConcurrencyOption = None,
    strict: StrictOption = False,
    operation: OperationOption = None,
    mode: ModeOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    fleet: FleetFlags = NO_FLEET,
    progress: ProgressOption = None,
) -> None:
    """List bulk processes, newest first.

    Filters other than --status are applied by bulkctl to every page the server
    sends, so they scan as many pages as they must. With -A, --profiles or --identities,
    each profile or identity is listed in turn (--limit applies to each), under a PROFILE
    or IDENTITY column.

    On a terminal DONE is n/total for RUNNING and PAUSED bulks whose counts were read, …
    where not; a table too narrow for it writes PARTIAL for PARTIALLY_COMPLETED.
    """
    invoke(
        ctx,
        lambda c: parse(
            c,
            status=status,
            paging=paging,
            format=format,
            fields=fields,
            no_header=no_header,
            concurrency=concurrency,
            strict=strict,
            operation=operation,
            mode=mode,
            since=since,
            until=until,
            fleet=fleet,
            progress=progress,
        ),
        run,
    )
