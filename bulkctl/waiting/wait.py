"""Waiting for bulks to end: the polling loop (its live table and heartbeat are
``bulkctl.waiting.progress``, its JUnit report ``bulkctl.waiting.junit``).

Shared by ``bulkctl wait`` and the commands that wait after acting (``submit --wait``,
``rerun --wait``). The exit code says how the bulks ended: 0 all COMPLETED; otherwise the
worst, 10 CANCELLED < 11 PARTIALLY_COMPLETED < 12 FAILED; 124 when the timeout passes first.

``timeout`` is a hard deadline counted from when the wait starts: the client abandons a
request in flight at it. The JUnit report is built as bulks end (each bulk's FAILED
operations are read as soon as it ends) and written from memory, with no new request, at
the end, at the deadline, on Ctrl-C and on SIGTERM.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bulkctl.api.records import BulkProcess
from bulkctl.context import Context
from bulkctl.errors import SIGTERM_HOLD, DeadlineReached, ExitCode, NotFound
from bulkctl.output.render import RenderOptions, human_duration, render
from bulkctl.waiting.github import in_github_actions, report_to_github
from bulkctl.waiting.junit import JUnitReport, check_junit_path
from bulkctl.waiting.outcomes import MAX_FAILURES, Ending, FailedOperations, WaitRecord
from bulkctl.waiting.polling import (
    FINAL_CODES,
    Poller,
    counts_read,
    describe_wait,
    done_of_total,
    outcome_code,
    poll_interval,
)
from bulkctl.waiting.progress import Heartbeat, LiveTable, progress_mode

if TYPE_CHECKING:
    from bulkctl.api.client import ApiClient


@dataclass
class WaitOptions:
    bulk_ids: list[str]
    timeout: float
    interval: float  # seconds between polls (ignored when ``adaptive``)
    as_json: bool = False
    junit: Path | None = None
    adaptive: bool = False  # the default schedule: quick at first, growing towards 30 s
    progress: str | None = None  # 'live', 'plain', 'none'; None: chosen (progress_mode)
    accept: frozenset[str] = frozenset()  # final statuses that exit 0 (--accept)
    junit_max_failures: int = MAX_FAILURES
    step_summary: bool = True  # GitHub Actions: append to $GITHUB_STEP_SUMMARY
    command: str = "wait"  # how the reports name the command
    listed: list[BulkProcess] = field(default_factory=list)  # final in a listing at the start
    record: WaitRecord | None = field(default=None, repr=False)  # from reports_on_exit


@contextmanager
def reports_on_exit(ctx: Context, options: WaitOptions) -> Iterator[WaitRecord]:
    """The reports of a command that waits (``--junit``, GitHub's annotations and step
    summary), written once on every way out: the JUnit path is checked here, before
    anything else; an error or a signal becomes the report's ``<error>`` naming its cause.
    Nested use (``options.record`` set) leaves the writing to the outer one."""
    if options.record is not None:
        yield options.record
        return
    if options.junit is not None:
        check_junit_path(options.junit)
    record = WaitRecord.start(ctx, options.command)
    record.accepted = options.accept
    record.reports_failures = options.junit is not None or in_github_actions(ctx)
    try:
        SIGTERM_HOLD.release()  # from here a SIGTERM is reported
        yield record
    except BaseException as exc:
        if not record.reported and not isinstance(exc, (SystemExit, GeneratorExit)):
            _write_reports(ctx, options, record, Ending.of_error(exc))
        raise
    if not record.reported:
        _write_reports(ctx, options, record, record.ending or Ending("final"))


def _write_reports(ctx: Context, options: WaitOptions, record: WaitRecord, ending: Ending) -> None:
    record.reported = True
    record.ending = ending
    report_to_github(ctx, record, ending, summary=options.step_summary)
    if options.junit is not None:
        JUnitReport(ctx, options.junit, record).write(ending)


def wait_for(ctx: Context, options: WaitOptions) -> int:
    """Poll until every bulk is final or the timeout passes; returns the exit code. The
    reports are written on every exit (``reports_on_exit``)."""
    with reports_on_exit(ctx, options) as record:
        return _wait_until_final(ctx, options, record)


def _wait_until_final(ctx: Context, options: WaitOptions, record: WaitRecord) -> int:
    """The polling loop; fills ``record`` as it learns."""
    started = ctx.clock.monotonic()
    deadline = started + options.timeout
    client = _client_within(ctx, deadline)
    earlier = client.deadline
    client.deadline = deadline if earlier is None else min(earlier, deadline)
    watch = _Watch.start(ctx, options, record, client, started, deadline)
    outer_hook = ctx.while_waiting
    ctx.while_waiting = watch.while_waiting()
    try:
        timed_out, why_early = watch.poll_until_final()
    except NotFound:
        record.missing = watch.poller.missing
        raise
    finally:
        ctx.while_waiting = outer_hook
        if watch.live is not None:
            watch.live.stop()
        client.deadline = earlier
    return _ending_code(ctx, options, record, watch, timed_out, why_early)


def _client_within(ctx: Context, deadline: float) -> ApiClient:
    """The client, logged in within the wait's deadline (a login waits within it too)."""
    outer = ctx.deadline
    ctx.deadline = deadline if outer is None else min(outer, deadline)
    try:
        return ctx.client()
    finally:
        ctx.deadline = outer


@dataclass
class _Watch:
    """One wait's moving parts: the poller, what it shows, and the failures it reads."""

    ctx: Context
    options: WaitOptions
    client: ApiClient
    poller: Poller
    failures: FailedOperations
    mode: str
    started: float
    deadline: float
    live: LiveTable | None = None
    heartbeat: Heartbeat | None = None

    @classmethod
    def start(
        cls,
        ctx: Context,
        options: WaitOptions,
        record: WaitRecord,
        client: ApiClient,
        started: float,
        deadline: float,
    ) -> _Watch:
        """The poller and the failure reader wired to ``record``, and the progress shown."""
        mode = progress_mode(ctx, options.progress)
        live = LiveTable(ctx, started) if mode == "live" else None
        shown: list[Heartbeat] = []  # the heartbeat comes after the failures that report to it
        failures = FailedOperations(
            ctx,
            client,
            deadline,
            limit=options.junit_max_failures,
            on_page=lambda line: shown[0].doing(line) if shown else None,
        )
        record.bulk_ids = options.bulk_ids
        record.failures = failures

        def ended(bulk: BulkProcess) -> None:
            record.bulk_ended(bulk, ctx.clock.monotonic())
            if record.reports_failures:
                failures.ended(bulk)

        poller = Poller(
            ctx,
            client,
            options.bulk_ids,
            latest=record.latest,
            details=live is not None,
            deadline=deadline,
            on_end=ended,
        )
        watch = cls(ctx, options, client, poller, failures, mode, started, deadline, live)
        if mode == "plain":
            watch.heartbeat = Heartbeat(ctx, poller, started)
            shown.append(watch.heartbeat)
        return watch

    def while_waiting(self) -> Callable[[], float | None] | None:
        """What runs while a request waits for the quota: a heartbeat, the live table, or
        the caller's own."""
        if self.heartbeat is not None:
            return self.heartbeat.beat
        live = self.live
        if live is not None:
            return lambda: live.update(self.poller)
        return self.ctx.while_waiting

    def poll_until_final(self) -> tuple[bool, str | None]:
        """Poll until no bulk is pending or the deadline passes; returns whether it timed
        out, and what ended it before the deadline (a time the API named), if anything."""
        while True:
            try:
                changes = self.poll_once()
            except DeadlineReached as exc:
                return True, exc.message
            self.note_changes(changes)
            if self.live is not None:
                self.live.update(self.poller)
            if not self.poller.pending():
                return False, None
            now = self.ctx.clock.monotonic()
            if self.deadline - now <= 0:
                return True, None
            self.sleep_until_next_poll(now)

    def poll_once(self) -> list[tuple[str, str | None, BulkProcess]]:
        """One poll, and the failures of the bulks that ended; a re-login keeps the deadline."""
        outer = self.ctx.deadline
        try:
            self.ctx.deadline = self.client.deadline
            listed, self.options.listed = self.options.listed, []
            changes = self.poller.learned(listed) + self.poller.poll()
            self.failures.catch_up()
            return changes
        finally:
            if self.heartbeat is not None:
                self.heartbeat.doing(None)
            self.ctx.deadline = outer

    def note_changes(self, changes: list[tuple[str, str | None, BulkProcess]]) -> None:
        """A line on stderr for each bulk whose status changed (unless progress is none)."""
        for bulk_id, previous, bulk in changes:
            if previous != bulk.status and self.mode != "none":
                waiting = describe_wait(bulk_id, bulk)
                if waiting:
                    self.ctx.note(waiting)
                if self.live is None:
                    done = f" ({done_of_total(bulk)} operations done)" if counts_read(bulk) else ""
                    self.ctx.note(f"bulk {bulk_id}: {bulk.status}{done}")

    def sleep_until_next_poll(self, now: float) -> None:
        """Sleep until the next poll (never past the deadline), beating the heartbeat."""
        clock, heartbeat, options = self.ctx.clock, self.heartbeat, self.options
        pause = poll_interval(now - self.started) if options.adaptive else options.interval
        next_poll = min(now + pause, self.deadline)
        while (left := next_poll - clock.monotonic()) > 0:
            if heartbeat is not None:
                heartbeat.beat()
                left = min(left, heartbeat.due - clock.monotonic())
            clock.sleep(max(left, 0.0))
        if heartbeat is not None:
            heartbeat.beat()


def _ending_code(
    ctx: Context,
    options: WaitOptions,
    record: WaitRecord,
    watch: _Watch,
    timed_out: bool,
    why_early: str | None,
) -> int:
    """The bulks as JSON if asked, the ending said on stderr, and the exit code."""
    poller = watch.poller
    pending = poller.pending()
    finals = [poller.latest[i] for i in options.bulk_ids if i in poller.latest]
    if options.as_json:
        render(
            [b.raw for b in finals],
            RenderOptions(fmt="json", fields=(), whole_objects=True),
            ctx.stdout,
        )
    if pending:
        waited = ctx.clock.monotonic() - watch.started
        return _timed_out(ctx, options, record, poller, pending, waited, why_early)
    if timed_out:  # every bulk final, but the timeout came before their failures were read
        record.ending = Ending("final", f"the timeout ({options.timeout:g}s) came first")
    return _final_code(ctx, options, finals)


def _timed_out(
    ctx: Context,
    options: WaitOptions,
    record: WaitRecord,
    poller: Poller,
    pending: list[str],
    waited: float,
    why_early: str | None,
) -> int:
    """Say which bulks are still pending, and after how long; the timeout's exit code."""
    states = ", ".join(
        f"{i} {poller.latest[i].status if i in poller.latest else 'never answered'}"
        for i in pending
    )
    if why_early is not None and waited < options.timeout - 0.05:
        # ended early, by a time the API named or the rate limit: say so, and when
        message = f"{why_early}; ended after {measured(waited)}"
    else:  # the time measured, never the one asked for
        message = f"timed out after {measured(waited)}"
    record.ending = Ending("timeout", message, "timeout")
    ctx.error([f"{message}; still pending: {states}"])
    return ExitCode.TIMEOUT


def _final_code(ctx: Context, options: WaitOptions, finals: list[BulkProcess]) -> int:
    """The worst final status not accepted, as an exit code, with the accepted and the
    not-completed bulks named on stderr."""
    accepted = [b for b in finals if b.status in options.accept]
    code = outcome_code([b for b in finals if b.status not in options.accept])
    if accepted:
        named = ", ".join(f"{b.bulk_id} {b.status}" for b in accepted)
        ctx.note(f"accepted (--accept): {named}")
    if code:
        ended = [
            b for b in finals if FINAL_CODES.get(b.status or "") and b.status not in options.accept
        ]
        worst = [f"{b.bulk_id} {b.status}" for b in ended]
        ctx.note(f"finished, not all completed: {', '.join(worst)}")
        _next_step(ctx, ended)
    return code


def _next_step(ctx: Context, ended: list[BulkProcess]) -> None:
    """The command to run next, with the profile in force: ``show`` of the first bulk not
    completed, and ``rerun`` when its operations failed."""
    first = next((b for b in ended if b.bulk_id), None)
    if first is None or first.bulk_id is None:
        return
    ctx.note(f"next: {ctx.suggest('show', first.bulk_id)}")
    if first.status in ("FAILED", "PARTIALLY_COMPLETED"):
        ctx.note(f"then: {ctx.suggest('rerun', first.bulk_id, '--failed')}")


def measured(seconds: float) -> str:
    """A time measured, as said: '0.2s', '10s', '8m 18s'."""
    whole = round(seconds)
    if whole >= 60:
        return human_duration(whole)
    return f"{whole}s" if abs(seconds - whole) < 0.05 else f"{seconds:.1f}s"
