"""``bulkctl watch``: live views of bulks.

Without an id: a refreshing table of bulks (same filters and columns as ``list``), changed
rows marked for a few seconds, done/total for running and paused bulks (details for at most
5 bulks a poll, in turn, estimated in between), until Ctrl-C. With an id: that bulk's
progress (bar, counts, rate, ETA) until it is final, then it exits like ``wait``. When
stdout is not a terminal it writes one JSON object per change: ``{"bulk": {...API
fields...}, "previousStatus": ...}``, and reads statuses only. Without ``--interval`` the
pause adapts (quick at first, growing to 30 s). A poll's read that lasts over 2 s (``--all``
under the quota, a fleet of identities) shows its progress as ``list`` does; over the table
on a terminal the live line is the table's last line. A refused connection or an unknown host
before any request has succeeded exits 6 at once; later outages are ridden out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

import msgspec
import typer

from bulkctl.api.records import BULK_STATUSES, BulkProcess
from bulkctl.cli.invoke import bound, invoke
from bulkctl.cli.options import (
    NO_FLEET,
    AllOption,
    AutoIntervalOption,
    ConcurrencyOption,
    FleetFlags,
    LimitOption,
    ModeOption,
    OperationOption,
    ProgressOption,
    SinceOption,
    StatusOption,
    UntilOption,
    check_concurrency,
    check_interval,
    check_paging,
    parse_statuses,
)
from bulkctl.context import Context
from bulkctl.errors import TRANSIENT_ERRORS, BulkctlError, UsageError
from bulkctl.lists.filters import BulkFilter
from bulkctl.lists.fleet import Fleet, parse_fleet, run_fleet
from bulkctl.lists.matching import Selection, matching_bulks
from bulkctl.lists.progress import parse_progress, read_mode, read_progress
from bulkctl.output.fields import fleet_fields
from bulkctl.output.outcome import outcome_line, outcome_of
from bulkctl.output.render import (
    BULK_TABLE_FIELDS,
    STATUS_STYLES,
    Field,
    RenderOptions,
    human_duration,
    json_line,
    table_console,
    table_lines,
    terminal_width,
)
from bulkctl.safetext import safe_text
from bulkctl.waiting.polling import (
    DETAILS_PER_POLL,
    Poller,
    describe_wait,
    outcome_code,
    poll_interval,
    progress_numbers,
    unreachable,
)

if TYPE_CHECKING:
    from bulkctl.api.client import ApiClient

MARK_SECONDS = 10.0  # on a terminal a changed row stays marked this long


@dataclass
class WatchOptions:
    interval: float | None  # None: the adaptive schedule (polling.poll_interval)
    bulk_id: str | None = None  # one bulk until final; None: the refreshing list
    selection: Selection | None = None  # which bulks the list shows
    fleet: Fleet = field(default_factory=Fleet)  # -A, --profiles, --identities: each poll
    progress: str | None = None  # --progress of each poll's read; None: chosen (read_mode)


def parse(
    ctx: Context,
    *,
    bulk_id: str | None = None,
    interval: str | None = None,
    status: list[str] | None = None,
    limit: int | None = None,
    all_records: bool = False,
    operation: str | None = None,
    mode: str | None = None,
    since: str | None = None,
    until: str | None = None,
    concurrency: int | None = None,
    fleet: FleetFlags = NO_FLEET,
    progress: str | None = None,
) -> WatchOptions:
    """The arguments of ``watch``, checked: filters and paging go only with the list."""
    seconds = check_interval(interval) if interval is not None else None
    if bulk_id is not None:
        from bulkctl.api.client import check_bulk_id  # httpx: only once a command runs

        check_bulk_id(bulk_id)
        if status or operation or mode or since or until or limit or all_records:
            raise UsageError("filters and paging options go with watch without a BULK_ID")
        if progress is not None:
            raise UsageError(
                "--progress goes with watch without a BULK_ID: one bulk reads no pages"
            )
        if parse_fleet(ctx, **msgspec.structs.asdict(fleet)).active:
            raise UsageError(
                "a BULK_ID belongs to one profile: leave out -A, --profiles, --identities"
            )
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
    return WatchOptions(
        interval=seconds,
        selection=selection,
        fleet=parse_fleet(ctx, **msgspec.structs.asdict(fleet)),
        progress=parse_progress(progress),
    )


def run(ctx: Context, options: WatchOptions) -> int:
    """Watch one bulk (returns its exit code like ``wait``) or the list (until Ctrl-C)."""
    if options.bulk_id is not None:
        return watch_bulk(ctx, options.bulk_id, options.interval)
    assert options.selection is not None
    return watch_list(ctx, options.selection, options.interval, options.fleet, options.progress)


def change_line(bulk: BulkProcess, previous: str | None) -> str:
    return json_line({"bulk": bulk.raw, "previousStatus": previous})


def pause(ctx: Context, interval: float | None, started: float) -> None:
    """Sleep until the next poll: the fixed --interval, or the adaptive schedule."""
    if interval is None:
        interval = poll_interval(ctx.clock.monotonic() - started)
    ctx.clock.sleep(interval)


# -- one bulk -----------------------------------------------------------------------------------


def watch_bulk(ctx: Context, bulk_id: str, interval: float | None) -> int:
    started = ctx.clock.monotonic()
    poller = Poller(ctx, ctx.client(), [bulk_id], details=True)
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
            pause(ctx, interval, started)
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
        if bulk.operation_status_counts or total is not None:
            width = terminal_width(self.ctx.stdout, self.ctx.env)
            parts.append(outcome_line(outcome_of(bulk), width))
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


def watch_list(
    ctx: Context,
    selection: Selection,
    interval: float | None,
    fleet: Fleet | None = None,
    progress: str | None = None,
) -> int:
    started = ctx.clock.monotonic()
    previous: dict[str, BulkProcess] = {}
    table = ListView(ctx, fleet) if ctx.stdout_tty else None
    details = Details(ctx, ctx.client()) if table is not None and not fleet else None
    reading = Reading(read_mode(ctx, progress), table.reading if table is not None else None)
    succeeded = False
    try:
        while True:
            try:
                current = _listed(ctx, selection, first=not succeeded, fleet=fleet, reading=reading)
            except TRANSIENT_ERRORS as exc:
                if not succeeded and unreachable(exc):
                    raise
                ctx.note(f"{exc.message}; still watching")
                pause(ctx, interval, started)
                continue
            succeeded = True
            changed = set()
            for bulk in current:
                key = _key(bulk)
                before = previous.get(key)
                if before is None or before.raw != bulk.raw:
                    changed.add(key)
                    if table is None:
                        print(
                            change_line(bulk, before.status if before else None),
                            file=ctx.stdout,
                            flush=True,
                        )
            first_round = not previous
            previous.update({_key(b): b for b in current})
            if details is not None:
                details.refresh(current)
            if table is not None:
                table.update(current, set() if first_round else changed, details)
            pause(ctx, interval, started)
    finally:
        if table is not None:
            table.stop()


def _key(bulk: BulkProcess) -> str:
    """A bulk's key across a fleet: its profile and identity (when it has them), its id."""
    raw = bulk.raw
    return f"{raw.get('profile', '')}/{raw.get('identity', '')}/{bulk.bulk_id or ''}"


@dataclass(frozen=True)
class Reading:
    """How a poll's read shows its progress: ``mode`` (--progress, else chosen), and the
    table's last line for the live one when watch's table owns the terminal."""

    mode: str = "none"
    table: Callable[[str], None] | None = None

    def fleet_mode(self) -> str:
        """A fleet counts its identities on stderr's transient line: not over the table."""
        return "none" if self.mode == "live" and self.table is not None else self.mode

    def show(self) -> Callable[[str], None] | None:
        return self.table if self.mode == "live" else None


def _listed(
    ctx: Context,
    selection: Selection,
    *,
    first: bool,
    fleet: Fleet | None = None,
    reading: Reading = Reading(),
) -> list[BulkProcess]:
    """One listing, its progress shown as ``reading`` says; before any success a refused
    connection is not retried. Across a fleet, every member's (its profile and identity
    first in each record), the identities counted."""
    if fleet:
        outcome = run_fleet(
            ctx, fleet, lambda c: _listed(c, selection, first=first), reading.fleet_mode()
        )
        return [
            msgspec.structs.replace(b, raw={**member.tags(), **b.raw})
            for member, bulks in outcome.results
            for b in bulks
        ]
    client = ctx.client()
    policy = client.retry
    if first:
        client.retry = msgspec.structs.replace(policy, attempts=1)
    try:
        with (
            read_progress(ctx, "bulks", mode=reading.mode, show=reading.show()) as progress,
            matching_bulks(ctx, selection, progress) as (bulks, _),
        ):
            return list(bulks)
    finally:
        client.retry = policy


@dataclass
class Details:
    """Progress of the running and paused bulks on screen: list pages carry no counts, so
    at most DETAILS_PER_POLL bulks are read whole a poll, in turn; estimated in between."""

    ctx: Context
    client: ApiClient
    poller: Poller = field(init=False)

    def __post_init__(self) -> None:
        self.poller = Poller(self.ctx, self.client, [], details=True, fail_unreachable=False)

    def refresh(self, shown: list[BulkProcess]) -> None:
        moving = [b.bulk_id for b in shown if b.bulk_id and b.status in ("RUNNING", "PAUSED")]
        poller = self.poller
        for bulk in shown:  # a status change seen in the list replaces stale details
            known = poller.latest.get(bulk.bulk_id or "")
            if known is not None and known.status != bulk.status:
                del poller.latest[bulk.bulk_id or ""]
                poller.snapshots.pop(bulk.bulk_id or "", None)
        poller.bulk_ids = moving
        unread = [i for i in moving if i not in poller.latest][:DETAILS_PER_POLL]
        if len(unread) < DETAILS_PER_POLL:
            unread += poller._details_turn(set(unread))[: DETAILS_PER_POLL - len(unread)]
        for bulk_id in unread:
            try:
                poller._fetch(bulk_id, [])
            except BulkctlError as exc:  # details are a nicety: the list goes on
                poller.problems[bulk_id] = exc.message

    def done(self, bulk: BulkProcess) -> str:
        bulk_id = bulk.bulk_id or ""
        if bulk.status not in ("RUNNING", "PAUSED") or bulk_id not in self.poller.latest:
            return ""
        count, total, guessed = self.poller.estimate(bulk_id, self.ctx.clock.monotonic())
        return ("~" if guessed else "") + (
            f"{count:,}/{total:,}" if total is not None else f"{count:,}/?"
        )


# ITEMS repeats DONE's total: in a narrow table it goes before any column is cut (priority 0)
WATCH_FIELDS: tuple[Field, ...] = tuple(
    msgspec.structs.replace(f, priority=0) if f.name == "submittedItemsCount" else f
    for f in (*BULK_TABLE_FIELDS[:2], Field("done", "DONE", priority=6), *BULK_TABLE_FIELDS[2:])
)


class ListView:
    """The refreshing table: the list columns and DONE, with a mark on rows that changed
    in the last MARK_SECONDS."""

    def __init__(self, ctx: Context, fleet: Fleet | None = None) -> None:
        from rich.live import Live

        self.ctx = ctx
        self.fields = WATCH_FIELDS
        if fleet:  # PROFILE, IDENTITY first
            self.fields = (*fleet_fields(fleet.by_profile, bool(fleet.identities)), *WATCH_FIELDS)
        self.marked: dict[str, float] = {}  # bulk id -> until when its mark stays
        self.lines: list[str] = []  # the table last drawn, and its last line
        self.footer = ""
        self.progress = ""  # a poll's long read, drawn instead of the last line
        self.live = Live(
            console=table_console(ctx.stdout, color=ctx.color, terminal=True), refresh_per_second=2
        )
        self.live.start()

    def update(
        self, bulks: list[BulkProcess], changed: set[str], details: Details | None = None
    ) -> None:
        now = self.ctx.clock.monotonic()
        for bulk_id in changed:
            self.marked[bulk_id] = now + MARK_SECONDS
        self.marked = {k: v for k, v in self.marked.items() if v > now}
        options = RenderOptions(
            fmt="table",
            fields=self.fields,
            color=self.ctx.color,
            now=self.ctx.clock.now(),
            terminal=True,
            width=terminal_width(self.ctx.stdout, self.ctx.env),
        )
        marks = ["•" if _key(b) in self.marked else " " for b in bulks]
        rows = [{**b.raw, "done": details.done(b) if details else ""} for b in bulks]
        self.lines = table_lines(rows, options, marks=marks)
        self.footer = f"{len(bulks)} bulks; Ctrl-C to stop"
        self._draw()

    def reading(self, text: str) -> None:
        """A poll's long read: its progress as the last line ("" when it ends)."""
        self.progress = text
        self._draw(refresh=True)  # at once: it comes once a second, from the reading threads

    def _draw(self, *, refresh: bool = False) -> None:
        from rich.text import Text

        last = safe_text(self.progress) or self.footer
        text = Text.from_ansi("\n".join([*self.lines, last]), no_wrap=True)
        self.live.update(text, refresh=refresh)

    def stop(self) -> None:
        self.live.stop()


@bound
def command(
    ctx: typer.Context,
    bulk_id: Annotated[
        str | None,
        typer.Argument(
            help="Watch this bulk until it is final (exits like wait).", metavar="[BULK_ID]"
        ),
    ] = None,
    interval: AutoIntervalOption = None,
    status: StatusOption = None,
    limit: LimitOption = None,
    all_records: AllOption = False,
    operation: OperationOption = None,
    mode: ModeOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    concurrency: ConcurrencyOption = None,
    fleet: FleetFlags = NO_FLEET,
    progress: ProgressOption = None,
) -> None:
    """Watch bulks live: a refreshing table (until Ctrl-C), or one bulk's progress.

    Piped, it writes one JSON object a line for each change: the bulk and its previous status.
    A table too narrow for it writes PARTIAL for PARTIALLY_COMPLETED. A poll that reads long
    (--all under the quota) shows its progress; over the table, as the table's last line.
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
            fleet=fleet,
            progress=progress,
        ),
        run,
    )
