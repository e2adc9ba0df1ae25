"""What a wait shows while it runs: the live table on a terminal, or plain lines (one a
status change, and a heartbeat at least once a minute, through quota waits, logins,
retries and long reads), or nothing.

``progress_mode`` chooses: ``--progress`` when given; else plain lines when ``CI`` is set,
stderr is not a terminal, or ``TERM`` is dumb, and the live table otherwise. Plain mode
never moves the cursor.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from bulkctl.api.records import BulkProcess
from bulkctl.context import Context
from bulkctl.output.render import (
    Field,
    RenderOptions,
    human_duration,
    table_lines,
    terminal_width,
)
from bulkctl.waiting.polling import Poller

HEARTBEAT_SECONDS = 60.0  # plain: a line at least this often, so CI never sees a silent job


def progress_mode(ctx: Context, requested: str | None) -> str:
    """'live', 'plain' or 'none': ``requested`` (--progress) wins; else the live table only
    on a terminal's stderr outside CI (TERM not dumb, not --quiet)."""
    if requested:
        return requested
    if not ctx.stderr_tty or ctx.in_ci or ctx.env.get("TERM") == "dumb" or ctx.options.quiet:
        return "plain"
    return "live"


class Heartbeat:
    """Plain output's sign of life: counts per status and progress, and what is going on
    (``doing``), at least once a minute."""

    def __init__(self, ctx: Context, poller: Poller, started: float) -> None:
        self.ctx = ctx
        self.poller = poller
        self.started = started
        self.due = started + HEARTBEAT_SECONDS
        self.activity: str | None = None

    def doing(self, activity: str | None) -> None:
        """What the wait is busy with (a long read), shown by the next heartbeat."""
        self.activity = activity
        if activity is not None:
            self.beat()

    def beat(self) -> float:
        """The heartbeat line when it is due; returns the seconds until the next one."""
        now = self.ctx.clock.monotonic()
        if now < self.due:
            return self.due - now
        self.due = now + HEARTBEAT_SECONDS
        line = heartbeat_line(self.poller, int(now - self.started))
        self.ctx.note(f"{line}; {self.activity}" if self.activity else line)
        return HEARTBEAT_SECONDS


def heartbeat_line(poller: Poller, waited: int) -> str:
    """'still waiting after 5m 00s: 2 RUNNING, 1 COMPLETED; 1,200/4,000 operations done'."""
    statuses: Counter[str] = Counter()
    done = total = 0
    unknown = False
    now = poller.ctx.clock.monotonic()
    for bulk_id in poller.bulk_ids:
        bulk = poller.latest.get(bulk_id)
        statuses[(bulk.status or "?") if bulk else "not yet read"] += 1
        count, of, _ = poller.estimate(bulk_id, now)
        if bulk is None or of is None or not bulk.operation_status_counts:
            unknown = True  # piped polls read statuses only: progress of bulks read whole
            continue
        done += count
        total += of
    counts = ", ".join(f"{n} {s}" for s, n in statuses.most_common())
    progress = f"{done:,}/{total:,} operations done" + (
        " (of the bulks read whole)" if unknown else ""
    )
    return f"still waiting after {human_duration(waited)}: {counts}; {progress}"


WAIT_FIELDS = (
    Field("bulkId", "BULK ID"),
    Field("status", "STATUS", "status"),
    Field("done", "DONE"),
    Field("elapsed", "ELAPSED", cut=True),
)


def bulk_elapsed(bulk: BulkProcess | None, now: float) -> str:
    """How long a bulk has run: from its executionStart to its executionFinish, or to now
    (wall seconds); '' when it has not started."""
    if bulk is None or bulk.execution_start is None:
        return ""
    end = bulk.execution_finish / 1000 if bulk.execution_finish is not None else now
    return human_duration(max(0, int(end - bulk.execution_start / 1000)))


class LiveTable:
    """The live per-bulk progress display on a terminal's stderr."""

    def __init__(self, ctx: Context, started: float) -> None:
        from rich.console import Console
        from rich.live import Live

        self.ctx = ctx
        self.started = started
        console = Console(file=ctx.stderr, no_color=bool(ctx.env.get("NO_COLOR")))
        self.live = Live(console=console, refresh_per_second=4, transient=False)
        self.live.start()

    def update(self, poller: Poller) -> None:
        from rich.text import Text

        now = self.ctx.clock.monotonic()
        wall = self.ctx.clock.now()
        rows: list[dict[str, Any]] = []
        for bulk_id in poller.bulk_ids:
            bulk = poller.latest.get(bulk_id)
            note = poller.problems.get(bulk_id)
            done = ""
            if bulk is not None:
                count, total, guessed = poller.estimate(bulk_id, now)
                done = ("~" if guessed else "") + (
                    f"{count:,}/{total:,}" if total is not None else f"{count:,}/?"
                )
            rows.append(
                {
                    "bulkId": bulk_id,
                    "status": (bulk.status or "?") if bulk else "…",
                    "done": done,
                    "elapsed": bulk_elapsed(bulk, wall) + (f"  ({note})" if note else ""),
                }
            )
        options = RenderOptions(
            fmt="table",
            fields=WAIT_FIELDS,
            color=not self.ctx.env.get("NO_COLOR"),
            terminal=True,
            width=terminal_width(self.ctx.stderr, self.ctx.env),
        )
        lines = table_lines(rows, options)
        lines.append(f"waiting {human_duration(int(now - self.started))}; Ctrl-C to stop")
        # laid out and made safe by the render layer, shown as text (never markup)
        self.live.update(Text.from_ansi("\n".join(lines), no_wrap=True))

    def stop(self) -> None:
        self.live.stop()
