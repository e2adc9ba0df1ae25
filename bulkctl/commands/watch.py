"""``bulkctl watch``: live views of bulks.

Without an id: a refreshing table of bulks (same filters and columns as ``list``), changed
rows marked, until Ctrl-C. With an id: that bulk's progress (bar, counts, rate, ETA) until
it is final, then it exits like ``wait``. When stdout is not a terminal it writes one JSON
object per change: ``{"bulk": {...API fields...}, "previousStatus": ...}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import typer

from bulkctl.api.records import BULK_STATUSES, BulkProcess
from bulkctl.context import Context
from bulkctl.errors import TRANSIENT_ERRORS, UsageError
from bulkctl.filters import BulkFilter
from bulkctl.invoke import invoke
from bulkctl.listing import Selection, matching_bulks
from bulkctl.options import (
    AllOption,
    ConcurrencyOption,
    IntervalOption,
    LimitOption,
    ModeOption,
    OperationOption,
    SinceOption,
    StatusOption,
    UntilOption,
    check_concurrency,
    check_interval,
    check_paging,
    parse_statuses,
)
from bulkctl.polling import Poller, describe_wait, outcome_code, progress_numbers
from bulkctl.render import (
    BULK_TABLE_FIELDS,
    STATUS_STYLES,
    RenderOptions,
    human_duration,
    json_line,
    table_console,
    table_lines,
    terminal_width,
)
from bulkctl.safetext import safe_text


@dataclass
class WatchOptions:
    interval: float
    bulk_id: str | None = None  # one bulk until final; None: the refreshing list
    selection: Selection | None = None  # which bulks the list shows


def parse(
    ctx: Context,
    *,
    bulk_id: str | None = None,
    interval: str = "5s",
    status: list[str] | None = None,
    limit: int | None = None,
    all_records: bool = False,
    operation: str | None = None,
    mode: str | None = None,
    since: str | None = None,
    until: str | None = None,
    concurrency: int | None = None,
) -> WatchOptions:
    """The arguments of ``watch``, checked: filters and paging go only with the list."""
    seconds = check_interval(interval)
    if bulk_id is not None:
        from bulkctl.api.client import check_bulk_id  # httpx: only once a command runs

        check_bulk_id(bulk_id)
        if status or operation or mode or since or until or limit or all_records:
            raise UsageError("filters and paging options go with watch without a BULK_ID")
        return WatchOptions(interval=seconds, bulk_id=bulk_id)
    selection = Selection(
        statuses=parse_statuses(status, BULK_STATUSES),
        wanted=check_paging(limit, 0, all_records),
        offset=0,
        concurrency=check_concurrency(concurrency),
        filters=BulkFilter.parse(
            operation=operation, mode=mode, since=since, until=until, now=ctx.clock.now()
        ),
    )
    return WatchOptions(interval=seconds, selection=selection)


def run(ctx: Context, options: WatchOptions) -> int:
    """Watch one bulk (returns its exit code like ``wait``) or the list (until Ctrl-C)."""
    if options.bulk_id is not None:
        return watch_bulk(ctx, options.bulk_id, options.interval)
    assert options.selection is not None
    return watch_list(ctx, options.selection, options.interval)


def change_line(bulk: BulkProcess, previous: str | None) -> str:
    return json_line({"bulk": bulk.raw, "previousStatus": previous})


# -- one bulk -----------------------------------------------------------------------------------


def watch_bulk(ctx: Context, bulk_id: str, interval: float) -> int:
    poller = Poller(ctx, ctx.client(), [bulk_id])
    view = BulkView(ctx) if ctx.stdout_tty else None
    try:
        while True:
            for _, previous, bulk in poller.poll():
                if view is None:
                    print(change_line(bulk, previous), file=ctx.stdout, flush=True)
                if previous != bulk.status:
                    waiting = describe_wait(bulk_id, bulk)
                    if waiting:
                        ctx.note(waiting)
            if view is not None and bulk_id in poller.latest:
                view.update(poller.latest[bulk_id], poller.problems.get(bulk_id))
            if not poller.pending():
                break
            ctx.clock.sleep(interval)
    finally:
        if view is not None:
            view.stop()
    return outcome_code([poller.latest[bulk_id]])


class BulkView:
    """One bulk's live progress on a terminal: bar, counts per status, rate and ETA."""

    def __init__(self, ctx: Context) -> None:
        from rich.live import Live

        self.ctx = ctx
        self.first: tuple[float, int] | None = None
        self.live = Live(
            console=table_console(ctx.stdout, color=ctx.color, terminal=True), refresh_per_second=4
        )
        self.live.start()

    def update(self, bulk: BulkProcess, problem: str | None) -> None:
        from rich.console import Group
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        now = self.ctx.clock.monotonic()
        done, total = progress_numbers(bulk)
        if self.first is None or bulk.status != "RUNNING":
            self.first = (now, done) if self.first is None else self.first
        began, done_then = self.first
        rate = (done - done_then) / (now - began) if now > began else 0.0
        head = Text(f"bulk {bulk.bulk_id}  ")
        head.append(
            safe_text(bulk.status or "?"),
            style=STATUS_STYLES.get(bulk.status or "", "") if self.ctx.color else "",
        )
        head.append(safe_text(f"  {bulk.submitted_items_count or '?'} × {bulk.operation or '?'}"))
        parts: list[Any] = [head]
        if total is not None:
            row = Table.grid(padding=(0, 1))
            row.add_row(
                ProgressBar(total=total, completed=min(done, total), width=40),
                Text(f"{done:,} / {total:,}"),
            )
            parts.append(row)
        counts = "  ".join(f"{c.status}: {c.count}" for c in bulk.operation_status_counts)
        parts.append(Text(safe_text(counts)))
        eta = ""
        if rate > 0 and total is not None and bulk.status == "RUNNING":
            eta = f"  ETA {human_duration(int((total - done) / rate))}"
        parts.append(Text(f"rate {rate:.1f} operations/s{eta}"))
        if problem:
            parts.append(Text(safe_text(f"({problem}; still watching)")))
        self.live.update(Group(*parts))

    def stop(self) -> None:
        self.live.stop()


# -- a list of bulks ----------------------------------------------------------------------------


def watch_list(ctx: Context, selection: Selection, interval: float) -> int:
    previous: dict[str, BulkProcess] = {}
    table = ListView(ctx) if ctx.stdout_tty else None
    try:
        while True:
            try:
                with matching_bulks(ctx, selection) as (bulks, _):
                    current = list(bulks)
            except TRANSIENT_ERRORS as exc:
                ctx.note(f"{exc.message}; still watching")
                ctx.clock.sleep(interval)
                continue
            changed = set()
            for bulk in current:
                key = bulk.bulk_id or ""
                before = previous.get(key)
                if before is None or before.raw != bulk.raw:
                    changed.add(key)
                    if table is None:
                        print(
                            change_line(bulk, before.status if before else None),
                            file=ctx.stdout,
                            flush=True,
                        )
            previous.update({b.bulk_id or "": b for b in current})
            if table is not None:
                table.update(current, changed if len(previous) > len(changed) else set())
            ctx.clock.sleep(interval)
    finally:
        if table is not None:
            table.stop()


class ListView:
    """The refreshing table: the list columns, with a mark on rows that changed."""

    def __init__(self, ctx: Context) -> None:
        from rich.live import Live

        self.ctx = ctx
        self.live = Live(
            console=table_console(ctx.stdout, color=ctx.color, terminal=True), refresh_per_second=2
        )
        self.live.start()

    def update(self, bulks: list[BulkProcess], changed: set[str]) -> None:
        from rich.text import Text

        options = RenderOptions(
            fmt="table",
            fields=BULK_TABLE_FIELDS,
            color=self.ctx.color,
            now=self.ctx.clock.now(),
            terminal=True,
            width=terminal_width(self.ctx.stdout, self.ctx.env),
        )
        marks = ["•" if b.bulk_id in changed else " " for b in bulks]
        lines = table_lines([b.raw for b in bulks], options, marks=marks)
        lines.append(f"{len(bulks)} bulks; Ctrl-C to stop")
        self.live.update(Text.from_ansi("\n".join(lines), no_wrap=True))

    def stop(self) -> None:
        self.live.stop()


def command(
    ctx: typer.Context,
    bulk_id: Annotated[
        str | None,
        typer.Argument(
            help="Watch this bulk until it is final (exits like wait).", metavar="[BULK_ID]"
        ),
    ] = None,
    interval: IntervalOption = "5s",
    status: StatusOption = None,
    limit: LimitOption = None,
    all_records: AllOption = False,
    operation: OperationOption = None,
    mode: ModeOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    concurrency: ConcurrencyOption = None,
) -> None:
    """Watch bulks live: a refreshing table (until Ctrl-C), or one bulk's progress.

    Piped, it writes one JSON object a line for each change: the bulk and its previous status.
    """
    invoke(
        ctx,
        lambda c: parse(
            c,
            bulk_id=bulk_id,
            interval=interval,
            status=status,
            limit=limit,
            all_records=all_records,
            operation=operation,
            mode=mode,
            since=since,
            until=until,
            concurrency=concurrency,
        ),
        run,
    )
