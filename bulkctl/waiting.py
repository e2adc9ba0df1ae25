"""Waiting for bulks to end: the polling loop (its live table and heartbeat are
``bulkctl.progress``, its JUnit report ``bulkctl.junit``).

Shared by ``bulkctl wait`` and the commands that wait after acting (``submit --wait``,
``rerun --wait``). The exit code says how the bulks ended: 0 all COMPLETED; otherwise the
worst, 10 CANCELLED < 11 PARTIALLY_COMPLETED < 12 FAILED; 124 when the timeout passes first.

``timeout`` is a hard deadline counted from when the wait starts: the client abandons a
request in flight at it. The JUnit report is built as bulks end (each bulk's FAILED
operations are read as soon as it ends) and written from memory, with no new request, at
the end, at the deadline, on Ctrl-C and on SIGTERM.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bulkctl.context import Context
from bulkctl.errors import DeadlineReached, ExitCode, Terminated
from bulkctl.junit import JUnitReport, check_junit_path
from bulkctl.polling import (
    FINAL_CODES,
    Poller,
    describe_wait,
    done_of_total,
    outcome_code,
    poll_interval,
)
from bulkctl.progress import Heartbeat, LiveTable
from bulkctl.render import RenderOptions, render


@dataclass
class WaitOptions:
    bulk_ids: list[str]
    timeout: float
    interval: float  # seconds between polls (ignored when ``adaptive``)
    as_json: bool = False
    junit: Path | None = None
    adaptive: bool = False  # the default schedule: quick at first, growing towards 30 s


def wait_for(ctx: Context, options: WaitOptions) -> int:
    """Poll until every bulk is final or the timeout passes; returns the exit code."""
    if options.junit is not None:
        check_junit_path(options.junit)  # before any request
    clock = ctx.clock
    started = clock.monotonic()
    deadline = started + options.timeout
    client = ctx.client()
    earlier = client.deadline
    client.deadline = deadline if earlier is None else min(earlier, deadline)
    report = JUnitReport(ctx, client, deadline) if options.junit is not None else None
    live = LiveTable(ctx, started) if ctx.stderr_tty and not ctx.options.quiet else None
    poller = Poller(
        ctx,
        client,
        options.bulk_ids,
        details=live is not None,
        deadline=deadline,
        on_end=report.bulk_ended if report is not None else None,
    )
    heartbeat = Heartbeat(ctx, poller, started) if live is None else None
    timed_out = False
    try:
        while True:
            try:
                changes = poller.poll()
                if report is not None:
                    report.catch_up()
            except DeadlineReached:
                timed_out = True
                break
            for bulk_id, previous, bulk in changes:
                if previous != bulk.status:
                    waiting = describe_wait(bulk_id, bulk)
                    if waiting:
                        ctx.note(waiting)
                    if live is None:
                        ctx.note(
                            f"bulk {bulk_id}: {bulk.status} ({done_of_total(bulk)} operations done)"
                        )
            if live is not None:
                live.update(poller)
            if not poller.pending():
                break
            now = clock.monotonic()
            if deadline - now <= 0:
                timed_out = True
                break
            pause = poll_interval(now - started) if options.adaptive else options.interval
            next_poll = min(now + pause, deadline)
            while (left := next_poll - clock.monotonic()) > 0:
                if heartbeat is not None:
                    heartbeat.beat()
                    left = min(left, heartbeat.due - clock.monotonic())
                clock.sleep(max(left, 0.0))
            if heartbeat is not None:
                heartbeat.beat()
    except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM: the report holds what is known
        if report is not None and options.junit is not None:
            how = "terminated" if isinstance(exc, Terminated) else "interrupted"
            report.write(options.junit, options.bulk_ids, poller.latest, pending_as=how)
        raise
    finally:
        if live is not None:
            live.stop()
        client.deadline = earlier
    pending = poller.pending()
    finals = [poller.latest[i] for i in options.bulk_ids if i in poller.latest]
    if options.as_json:
        render(
            [b.raw for b in finals],
            RenderOptions(fmt="json", fields=(), whole_objects=True),
            ctx.stdout,
        )
    if report is not None and options.junit is not None:
        report.write(
            options.junit,
            options.bulk_ids,
            poller.latest,
            pending_as=f"timeout ({options.timeout:g}s)" if timed_out or pending else None,
        )
    if pending:
        states = ", ".join(
            f"{i} {poller.latest[i].status if i in poller.latest else 'never answered'}"
            for i in pending
        )
        ctx.error([f"timed out after {options.timeout:g}s; still pending: {states}"])
        return ExitCode.TIMEOUT
    code = outcome_code(finals)
    if code:
        worst = [f"{b.bulk_id} {b.status}" for b in finals if FINAL_CODES.get(b.status or "")]
        ctx.note(f"finished, not all completed: {', '.join(worst)}")
    return code
