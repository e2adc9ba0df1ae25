"""What a wait shows while it runs: the live table on a terminal, and the heartbeat that
piped output prints at least once a minute."""

from __future__ import annotations

from collections import Counter
from typing import Any

from bulkctl.api.records import BulkProcess
from bulkctl.context import Context
from bulkctl.polling import Poller
from bulkctl.render import (
    Field,
    RenderOptions,
    human_duration,
    table_lines,
    terminal_width,
)

HEARTBEAT_SECONDS = 60.0  # piped: a line at least this often, so CI never sees a silent job


class Heartbeat:
    """Piped output's sign of life: counts per status and progress, at least once a minute."""

    def __init__(self, ctx: Context, poller: Poller, started: float) -> None:
        self.ctx = ctx
        self.poller = poller
        self.started = started
        self.due = started + HEARTBEAT_SECONDS

    def beat(self) -> None:
        now = self.ctx.clock.monotonic()
        if now < self.due:
            return
        self.due = now + HEARTBEAT_SECONDS
        self.ctx.note(heartbeat_line(self.poller, int(now - self.started)))


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
