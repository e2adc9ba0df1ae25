"""Progress of a long read: a listing, a paced or quota-bound read, the failed operations of
a bulk. Once a read has lasted ``SHOW_AFTER`` seconds it shows, on stderr, the pages read,
the total when known, and an ETA: on a terminal one transient line, redrawn and cleared at
the end; in a pipe, with ``CI`` set, or in plain mode (``--progress plain``), a plain line at
least every 10 seconds, also through the client's waits for the quota (it sets
the Context's ``while_waiting`` hook for the read).

Declared once: a read wraps its page fetches with ``counted`` inside ``read_progress``; a
fleet's read counts its members instead (``members=``, one ``step`` each: identities).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from bulkctl.api.records import Page
from bulkctl.cli.options import PROGRESS_VALUES
from bulkctl.context import Context
from bulkctl.errors import UsageError
from bulkctl.output.render import human_duration

SHOW_AFTER = 2.0  # seconds: a shorter read shows nothing
# seconds between plain lines: 9, so that with the Context's sleep slices (a second at
# least) and other threads' waits a line still comes at least every 10 s
PLAIN_EVERY = 9.0
FIRST_PAGE_AFTER = 10.0  # seconds: with no page read yet (a refused connection retried)
LIVE_EVERY = 1.0  # seconds: the transient line is redrawn this often while waiting
CLEAR = "\r\x1b[2K"

FetchPage = Callable[[int, int], Page]


def parse_progress(value: str | None) -> str | None:
    """--progress: live, plain or none (any case); None when not given."""
    if value is None:
        return None
    mode = value.strip().lower()
    if mode not in PROGRESS_VALUES.words:
        raise UsageError(
            f"unknown --progress {value!r}",
            hint=f"valid values: {', '.join(PROGRESS_VALUES.words)}",
        )
    return mode


def read_mode(ctx: Context, requested: str | None = None) -> str:
    """'live', 'plain' or 'none': ``requested`` wins; else nothing with --quiet, plain lines
    in a pipe, with CI set or TERM dumb, and the transient line on a terminal."""
    if requested:
        return requested
    if ctx.options.quiet:
        return "none"
    if not ctx.stderr_tty or ctx.in_ci or ctx.env.get("TERM") == "dumb":
        return "plain"
    return "live"


class ReadProgress:
    """The counts of one read and the line that shows them (thread-safe: pages are fetched,
    and the quota waited for, in several threads)."""

    def __init__(self, ctx: Context, what: str, mode: str) -> None:
        self.ctx = ctx
        self.what = what  # "bulks", "failed operations"
        self.mode = mode
        self.pages = 0
        self.records = 0
        self.members: int | None = None  # a fleet's: the members to read, counted by step
        self.done = 0  # members read (or failed)
        self._totals: dict[int, int | None] = {}  # per stream: its records, as the API counts
        self._limit = 0
        self._offset = 0
        self._wanted: int | None = None
        self.started = ctx.clock.monotonic()
        self._due = self.started + SHOW_AFTER
        self._lock = threading.Lock()
        self.drawn = ""  # the transient line on screen now ("" for none)
        self.raw = ctx.stderr  # the terminal itself, not the stream that clears the line
        self.shown = 0  # lines written (plain) or drawings (live)
        # where the live line goes instead of stderr: a view that owns the screen (watch's
        # table draws it as its last line); "" takes it away
        self.show: Callable[[str], None] | None = None

    def counted(self, fetch: FetchPage, stream: int = 0) -> FetchPage:
        """``fetch`` that counts its pages, records and the stream's total into this read."""

        def fetch_counted(offset: int, limit: int) -> Page:
            page = fetch(offset, limit)
            with self._lock:
                self.pages += 1
                self.records += len(page.records)
                self._limit = max(self._limit, limit)
                self._totals[stream] = page.count
            self.tick()
            return page

        return fetch_counted

    def step(self) -> None:
        """One member of a fleet read (or failed)."""
        with self._lock:
            self.done += 1
        self.tick()

    def bound(self, offset: int, wanted: int | None) -> None:
        """The read starts ``offset`` records in and stops after ``wanted`` (None: all)."""
        self._offset, self._wanted = offset, wanted

    def total_records(self) -> int | None:
        """The records the whole read takes, when every stream told its count."""
        counts = list(self._totals.values())
        if not counts or None in counts:
            return None
        total = max(0, sum(c or 0 for c in counts) - self._offset)
        return total if self._wanted is None else min(total, self._wanted)

    def total_pages(self) -> int | None:
        """The pages the whole read takes (about: streams end in part pages)."""
        records = self.total_records()
        if records is None or not self._limit:
            return None
        return max(len(self._totals), math.ceil(records / self._limit), self.pages)

    def line(self, now: float, quota: float | None = None) -> str:
        """'reading bulks: 12 of 50 pages (1,200 of 5,000), 40s so far, ETA 2m 10s'.
        ``quota``: the pacer's hold on the pages left, when asked already (``quota_bound``)."""
        elapsed = max(0.0, now - self.started)
        if self.members is not None:
            return self._members_line(elapsed)
        with self._lock:
            pages, records = self.pages, self.records
            total = self.total_pages()
            all_records = self.total_records()
        of = f" of {total:,}" if total is not None else ""
        rows = f"{records:,}" + (f" of {all_records:,}" if all_records is not None else "")
        text = f"reading {self.what}: {pages:,}{of} pages ({rows}), {human_duration(int(elapsed))} so far"
        if total is not None and pages > 0:
            left = max(0, total - pages)
            if quota is None:
                quota = self.quota_bound(left)
            # the pace so far, unless the quota holds what is left back longer: early in a
            # quota-bound read the first pages went at full speed
            eta = max(left * elapsed / pages, quota)
            text += f", ETA {human_duration(math.ceil(eta))}"
        elif total is None and pages == 0:
            text += ", waiting for the first page"
        return text

    def quota_bound(self, requests: int) -> float:
        """Seconds before the last of ``requests`` more requests may start, as the client's
        pacer sees its windows and the starts recorded in them (0 with no client yet)."""
        client = self.ctx.built_client()
        if client is None or requests <= 0:
            return 0.0
        return client.pacer.time_to_start(requests)

    def _members_line(self, elapsed: float) -> str:
        """'reading identities: 120 of 300, 40s so far, ETA 1m 0s'."""
        done, total = self.done, self.members or 0
        text = f"reading {self.what}: {done:,} of {total:,}, {human_duration(int(elapsed))} so far"
        if done > 0:
            text += f", ETA {human_duration(math.ceil(max(0, total - done) * elapsed / done))}"
        return text

    def tick(self) -> float | None:
        """Show the line when due; returns the seconds until it wants to run again (the
        Context's ``while_waiting`` hook)."""
        if self.mode == "none" or self.ctx.paging:  # nothing over the pager's screen
            return None
        every = PLAIN_EVERY if self.mode == "plain" else LIVE_EVERY
        wait = self._until_due(self.ctx.clock.monotonic(), claim=False)
        if wait is not None:
            return wait
        # the pacer is asked before the line's time is taken: reading its shared record takes
        # a moment, which must not come between that time and the line
        asked = self.ctx.clock.monotonic()
        quota = self.quota_bound(self._pages_left()) if self.members is None else 0.0
        now = self.ctx.clock.monotonic()
        wait = self._until_due(now, claim=True, every=every)
        if wait is not None:  # another thread showed it meanwhile
            return wait
        text = self.line(now, quota=max(0.0, quota - (now - asked)))
        if self.mode == "plain":
            self.ctx.note(text)
        else:
            self._draw(text)
        self.shown += 1
        return every

    def _until_due(self, now: float, *, claim: bool, every: float = 0.0) -> float | None:
        """Seconds until the line is due, or None when it is (``claim``: taken from now)."""
        with self._lock:
            due = self._due
            if max(self.pages, self.done) == 0:  # a first request's retries speak for themselves
                due = max(due, self.started + FIRST_PAGE_AFTER)
            if now < due:
                return due - now
            if claim:
                self._due = now + every
        return None

    def _pages_left(self) -> int:
        with self._lock:
            total = self.total_pages()
            return 0 if total is None else max(0, total - self.pages)

    def _draw(self, text: str) -> None:
        if self.show is not None:
            self.drawn = text
            self.show(text)
            return
        width = max(20, self.ctx.stderr_width() - 1)
        shown = text if len(text) <= width else text[: width - 1] + "…"
        with self.ctx.stderr_lock:
            self.raw.write(CLEAR + shown)
            self.raw.flush()
            self.drawn = shown

    def clear(self) -> None:
        """Take the transient line off the screen (before other output, and at the end)."""
        with self.ctx.stderr_lock:
            if self.drawn and self.show is not None:
                self.drawn = ""
                self.show("")
            elif self.drawn:
                self.drawn = ""
                self.raw.write(CLEAR)
                self.raw.flush()


class _Clearing:
    """A stream that takes the transient line away before anything else is written, so rows
    on stdout and notes on stderr never land at the end of it."""

    def __init__(self, stream: TextIO, progress: ReadProgress) -> None:
        self._stream = stream
        self._progress = progress

    def write(self, text: str) -> int:
        if text:
            self._progress.clear()
        return self._stream.write(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextmanager
def read_progress(
    ctx: Context,
    what: str,
    *,
    mode: str | None = None,
    members: int | None = None,
    show: Callable[[str], None] | None = None,
) -> Iterator[ReadProgress]:
    """Progress for the read inside the block: the hook through the client's waits, and on
    a terminal the transient line, cleared before other output and at the end. ``members``:
    a fleet's count of members, each ``step``ped (fewer than two show nothing). ``show``:
    where the live line goes instead (a view that owns the screen), "" at the end."""
    progress = ReadProgress(ctx, what, read_mode(ctx, mode))
    progress.show = show
    if members is not None:
        progress.members = members
        progress.mode = progress.mode if members > 1 else "none"
    outer = ctx.while_waiting
    streams = (ctx.stdout, ctx.stderr)

    def hook() -> float | None:
        wanted = progress.tick()
        theirs = outer() if outer is not None else None
        known = [w for w in (wanted, theirs) if w is not None]
        return min(known) if known else None

    ctx.while_waiting = hook
    if progress.mode == "live" and show is None:
        ctx.stdout = _Clearing(ctx.stdout, progress)  # type: ignore[assignment]
        ctx.stderr = _Clearing(ctx.stderr, progress)  # type: ignore[assignment]
    try:
        yield progress
    finally:
        ctx.while_waiting = outer
        progress.clear()
        ctx.stdout, ctx.stderr = streams
