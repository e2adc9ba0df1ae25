"""``bulkctl summary``: counts per status, for dashboards and scheduled CI checks.

Without client-side filters it costs one small request per status (limit=1, read
``count``), sent concurrently. With ``--operation``, ``--mode``, ``--since`` or
``--until`` it pages through each status and counts what matches. Given bulk ids, it
summarises those bulks only (one GET each); ``--markdown`` then also has a row per bulk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

import msgspec
import typer

from bulkctl.api.records import BULK_STATUSES, BulkProcess
from bulkctl.cli.invoke import bound, invoke
from bulkctl.cli.options import (
    BULK_STATUS_VALUES,
    NO_FLEET,
    ConcurrencyOption,
    FleetFlags,
    ModeOption,
    OperationOption,
    OutputOption,
    ProgressOption,
    SinceOption,
    StatusOption,
    UntilOption,
    check_concurrency,
    option,
    parse_statuses,
)
from bulkctl.context import Context
from bulkctl.errors import ExitCode, UsageError
from bulkctl.lists.filters import BulkFilter
from bulkctl.lists.fleet import Fleet, parse_fleet, run_fleet, worst_exit_code
from bulkctl.lists.matching import Selection, matching_bulks
from bulkctl.lists.progress import parse_progress, read_progress
from bulkctl.output.fields import fleet_fields
from bulkctl.output.render import Field, RenderOptions, check_format, render, render_record
from bulkctl.output.tables import cells, table_lines, terminal_width
from bulkctl.waiting.github import summary_table

SINCE_NOTE = "never-started bulks (no executionStart) are not counted with --since or --until"
SUMMARY_FIELDS = (Field("status", "STATUS", "status"), Field("count", "COUNT", "int"))


@dataclass
class SummaryOptions:
    statuses: list[str]
    fail_on: list[str]
    fmt: str
    filters: BulkFilter
    concurrency: int | None = None
    bulk_ids: list[str] = field(default_factory=list)  # summarise these bulks only
    fleet: Fleet = field(default_factory=Fleet)
    progress: str | None = None  # --progress: live, plain, none; None: chosen (read_mode)


def parse(
    ctx: Context,
    *,
    bulk_ids: list[str] | None = None,
    fail_on: str | None = None,
    status: list[str] | None = None,
    output: str | None = None,
    json_flag: bool = False,
    markdown: bool = False,
    operation: str | None = None,
    mode: str | None = None,
    since: str | None = None,
    until: str | None = None,
    concurrency: int | None = None,
    fleet: FleetFlags = NO_FLEET,
    progress: str | None = None,
) -> SummaryOptions:
    """The arguments of ``summary``, checked."""
    from bulkctl.api.client import check_bulk_id  # httpx: only once a command runs

    ids = list(dict.fromkeys(check_bulk_id(i) for i in bulk_ids or []))
    picked = [f for f, on in (("json", json_flag), ("markdown", markdown)) if on]
    if output is not None:
        picked.append(check_format(output))
    if len(set(picked)) > 1:
        raise UsageError(f"choose one output format, not {' and '.join(sorted(set(picked)))}")
    if ids and (fleet.all_profiles or fleet.profiles or fleet.identities):
        raise UsageError("bulk ids belong to one profile: leave out -A, --profiles, --identities")
    fail_statuses = parse_statuses([fail_on] if fail_on else [], BULK_STATUSES)
    statuses = parse_statuses(status, BULK_STATUSES) or list(BULK_STATUSES)
    return SummaryOptions(
        statuses=statuses + [s for s in fail_statuses if s not in statuses],
        fail_on=fail_statuses,
        fmt=picked[0] if picked else ("table" if ctx.stdout_tty else "plain"),
        filters=BulkFilter.parse(
            operation=operation, mode=mode, since=since, until=until, now=ctx.clock.now()
        ),
        concurrency=check_concurrency(concurrency),
        bulk_ids=ids,
        fleet=parse_fleet(ctx, **msgspec.structs.asdict(fleet)),
        progress=parse_progress(progress),
    )


def read_bulks(ctx: Context, options: SummaryOptions) -> list[BulkProcess]:
    """The bulks named, one GET each, those the filters keep."""
    client = ctx.client()
    bulks = [client.get_bulk(bulk_id) for bulk_id in options.bulk_ids]
    return [b for b in bulks if options.filters.matches(b)]


def count_statuses(ctx: Context, options: SummaryOptions) -> dict[str, int | None]:
    """The count per status: one limit=1 request each, or a filtered scan."""
    from concurrent.futures import ThreadPoolExecutor  # only when counting, not for --help

    client = ctx.client()
    if not options.filters.active:
        workers = max(1, min(len(options.statuses), ctx.concurrency(options.concurrency)))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            pages = pool.map(
                lambda s: client.list_bulks(offset=0, limit=1, status=s), options.statuses
            )
            return {s: page.reported_count for s, page in zip(options.statuses, pages, strict=True)}
    counts: dict[str, int | None] = {}
    mode = None if options.fleet.active else options.progress  # a fleet counts its members
    for status in options.statuses:
        selection = Selection(
            statuses=[status], concurrency=options.concurrency, filters=options.filters
        )
        with (
            read_progress(ctx, f"{status} bulks", mode=mode) as progress,
            matching_bulks(ctx, selection, progress) as (bulks, _),
        ):
            counts[status] = sum(1 for _ in bulks)
    return counts


def run_fleet_summary(ctx: Context, options: SummaryOptions) -> int:
    """Counts per profile or identity and a TOTAL row (``--json``: ``{"counts": [...],
    "total": {...}, "errors": [...]}``); --fail-on applies to the total. Returns 9 when it
    matches, else the fleet's worst exit code."""
    outcome = run_fleet(ctx, options.fleet, lambda c: count_statuses(c, options), options.progress)
    total: dict[str, int | None] = {}
    for status in options.statuses:
        values = [counts[status] for _, counts in outcome.results]
        total[status] = None if None in values else sum(v or 0 for v in values)
    if options.fmt == "json":
        document = {
            "counts": [{**member.tags(), "counts": counts} for member, counts in outcome.results],
            "total": total,
            "errors": outcome.errors(),
        }
        render_record(
            document, RenderOptions(fmt="json", fields=(), whole_objects=True), ctx.stdout
        )
    else:
        first = fleet_fields(options.fleet.by_profile, bool(options.fleet.identities))
        rows: list[dict[str, Any]] = [{**m.tags(), **c} for m, c in outcome.results]
        rows.append({first[0].name: "TOTAL", **total})
        table = RenderOptions(
            fmt=options.fmt,
            fields=(*first, *(Field(s, s, "int") for s in options.statuses)),
            color=ctx.color,
            terminal=ctx.stdout_tty,
            width=terminal_width(ctx.stdout, ctx.env) if ctx.stdout_tty else None,
        )
        render(rows, narrowed(table, rows), ctx.stdout)
    if options.filters.since_ms is not None or options.filters.until_ms is not None:
        ctx.note(SINCE_NOTE)
    failing = [f"{s} {total[s]:,}" for s in options.fail_on if (total.get(s) or 0) > 0]
    if failing:
        print(f"bulkctl: check failed: {', '.join(failing)} in all", file=ctx.stderr)
    return worst_exit_code([outcome.exit_code, ExitCode.CHECK_FAILED if failing else 0])


# a fleet's status columns, headed shorter in a table too narrow for their names (named in
# --help): first as words (PARTIAL, as every narrow table says PARTIALLY_COMPLETED), then
# in four letters at most, for long profile names
SHORT_HEADERS = (
    {
        "SUBMITTED": "SUBMIT",
        "RUNNING": "RUN",
        "PARTIALLY_COMPLETED": "PARTIAL",
        "COMPLETED": "COMPL",
        "FAILED": "FAIL",
        "PAUSED": "PAUSE",
        "CANCELLED": "CANCEL",
    },
    {
        "SUBMITTED": "SUB",
        "RUNNING": "RUN",
        "PARTIALLY_COMPLETED": "PART",
        "COMPLETED": "COMP",
        "FAILED": "FAIL",
        "PAUSED": "PAUS",
        "CANCELLED": "CANC",
    },
)


def narrowed(options: RenderOptions, rows: list[dict[str, Any]]) -> RenderOptions:
    """``options`` with the status columns headed as short as the terminal needs (the
    PROFILE and IDENTITY columns are never cut), the shortest when none fits."""
    if options.fmt != "table" or not options.terminal or options.width is None:
        return options
    tried = options
    for headers in ({}, *SHORT_HEADERS):
        fields = [
            msgspec.structs.replace(f, header=headers.get(f.name, f.header)) for f in options.fields
        ]
        tried = msgspec.structs.replace(options, fields=fields)
        plain = msgspec.structs.replace(tried, color=False)
        if max(cells(line) for line in table_lines(rows, plain)) <= options.width:
            break
    return tried


def run(ctx: Context, options: SummaryOptions) -> int:
    """Count, write the counts, and return 9 when a --fail-on status has bulks."""
    if options.fleet.active:
        return run_fleet_summary(ctx, options)
    if options.bulk_ids:
        bulks = read_bulks(ctx, options)
        counts: dict[str, int | None] = {
            s: sum(1 for b in bulks if b.status == s) for s in options.statuses
        }
        if options.fmt == "markdown":
            print("\n".join([*summary_table(bulks), ""]), file=ctx.stdout)
    else:
        counts = count_statuses(ctx, options)
    if options.fmt == "json":
        render_record(
            dict(counts),
            RenderOptions(fmt="json", fields=SUMMARY_FIELDS, whole_objects=True),
            ctx.stdout,
        )
    else:
        rows: list[dict[str, Any]] = [{"status": s, "count": c} for s, c in counts.items()]
        if options.fmt in ("table", "markdown"):
            known = [c for c in counts.values() if c is not None]
            rows.append(
                {"status": "TOTAL", "count": sum(known) if len(known) == len(counts) else None}
            )
        render(
            rows,
            RenderOptions(
                fmt=options.fmt, fields=SUMMARY_FIELDS, color=ctx.color, terminal=ctx.stdout_tty
            ),
            ctx.stdout,
        )
    if options.filters.since_ms is not None or options.filters.until_ms is not None:
        ctx.note(SINCE_NOTE)
    failing = [f"{s} {counts[s]:,}" for s in options.fail_on if (counts.get(s) or 0) > 0]
    if failing:
        print(f"bulkctl: check failed: {', '.join(failing)}", file=ctx.stderr)
        return ExitCode.CHECK_FAILED
    return ExitCode.OK


FailOnOption = Annotated[
    str | None,
    option(
        "--fail-on",
        help="Exit 9 when any of these statuses has a count above zero, e.g. FAILED,PARTIALLY_COMPLETED.",
        metavar="S1,S2",
        values=BULK_STATUS_VALUES,
    ),
]


@bound
def command(
    ctx: typer.Context,
    bulk_ids: Annotated[
        list[str] | None,
        typer.Argument(
            help="Summarise only these bulks (digits): one request each.",
            metavar="[BULK_ID]...",
            show_default=False,
        ),
    ] = None,
    fail_on: FailOnOption = None,
    status: StatusOption = None,
    output: OutputOption = None,
    json_flag: Annotated[
        bool, typer.Option("--json", help="One JSON object of counts by status.")
    ] = False,
    markdown: Annotated[
        bool, typer.Option("--markdown", help="A Markdown table, e.g. for $GITHUB_STEP_SUMMARY.")
    ] = False,
    operation: OperationOption = None,
    mode: ModeOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    concurrency: ConcurrencyOption = None,
    fleet: FleetFlags = NO_FLEET,
    progress: ProgressOption = None,
) -> None:
    """Count bulks per status (all seven unless --status narrows it).

    Without --operation, --mode, --since or --until this is one small request per status;
    with them it reads every page of each status and counts what matches. Given bulk ids,
    it counts those bulks only, and --markdown adds a row per bulk. -A, --profiles or
    --identities: a row per member, TOTAL, --fail-on on the total; a narrow table heads
    the statuses SUBMIT RUN PARTIAL COMPL FAIL PAUSE CANCEL, or SUB RUN PART COMP FAIL
    PAUS CANC.
    """
    invoke(
        ctx,
        lambda c: parse(
            c,
            bulk_ids=bulk_ids,
            fail_on=fail_on,
            status=status,
            output=output,
            json_flag=json_flag,
            markdown=markdown,
            operation=operation,
            mode=mode,
            since=since,
            until=until,
            concurrency=concurrency,
            fleet=fleet,
            progress=progress,
        ),
        run,
    )
