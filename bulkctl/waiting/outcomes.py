"""What a wait learned, for the reports written on its every exit (the JUnit report, the
GitHub annotations and step summary): the bulks' last answers, when each ended, how the
command ended, and the FAILED operations of the bulks that ended, read as each one ends.

One request a page (status filter FAILED), at most ``limit`` operations a bulk (the rest
counted from the listing's ``count``); a bulk whose counts say nothing failed costs no
request. Pages read before a deadline, a signal or an error are kept, so a report written
then lists them and says how many were not read.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bulkctl.api.records import BulkOperation, BulkProcess
from bulkctl.context import Context
from bulkctl.errors import TRANSIENT_ERRORS, BulkctlError, Terminated
from bulkctl.waiting.polling import PAGE

if TYPE_CHECKING:
    from bulkctl.api.client import ApiClient

MAX_FAILURES = 1_000  # failed operations listed per bulk by default: ten pages at most
LAST_OFFSET = 10_000  # the furthest a listing is read


@dataclass
class BulkFailures:
    """What is known of one ended bulk's failed operations."""

    bulk_id: str
    expected: int | None  # FAILED in the bulk's counts; None when its answer gave none
    operations: dict[str, BulkOperation] = field(default_factory=dict)  # by key, in order
    offset: int = 0
    listed_count: int | None = None  # the listing's ``count``, once a page told it
    done: bool = False  # every operation wanted is read (or none was wanted)
    problem: str | None = None  # why the last read stopped short (a transient error)

    @property
    def count(self) -> int | None:
        """How many operations failed, as far as the server said."""
        return self.listed_count if self.listed_count is not None else self.expected

    @property
    def unlisted(self) -> int | None:
        """Failed operations not read (None: how many is unknown)."""
        count = self.count
        return None if count is None else max(0, count - len(self.operations))


class FailedOperations:
    """Reads each ended bulk's failed operations; ``catch_up`` goes on after a transient
    error, and ``DeadlineReached`` passes through with the pages read so far kept."""

    def __init__(
        self,
        ctx: Context,
        client: ApiClient,
        deadline: float | None,
        *,
        limit: int = MAX_FAILURES,
        on_page: Callable[[str], None] | None = None,
    ) -> None:
        self.ctx = ctx
        self.client = client
        self.deadline = deadline
        self.limit = limit
        self.on_page = on_page
        self.bulks: dict[str, BulkFailures] = {}
        self.queue: list[str] = []

    def ended(self, bulk: BulkProcess) -> None:
        """A bulk seen final for the first time: read its failed operations (unless its
        counts say none failed)."""
        if bulk.bulk_id is None or bulk.bulk_id in self.bulks:
            return
        counted = bool(bulk.operation_status_counts)
        entry = BulkFailures(bulk.bulk_id, bulk.count_of("FAILED") if counted else None)
        self.bulks[bulk.bulk_id] = entry
        if counted and entry.expected == 0:
            entry.done = True
            return
        self.queue.append(bulk.bulk_id)
        self.catch_up()

    def catch_up(self) -> None:
        """Read what is still to read; a transient error waits for the next round."""
        while self.queue:
            entry = self.bulks[self.queue[0]]
            try:
                self._read(entry)
            except TRANSIENT_ERRORS as exc:
                if entry.problem != exc.message:
                    self.ctx.note(
                        f"bulk {entry.bulk_id}: failed operations not read yet: {exc.message}"
                    )
                entry.problem = exc.message
                return
            entry.problem = None
            entry.done = True
            self.queue.pop(0)

    def _read(self, entry: BulkFailures) -> None:
        while len(entry.operations) < self.limit and entry.offset < LAST_OFFSET:
            page = self.client.list_operations(
                entry.bulk_id,
                offset=entry.offset,
                limit=PAGE,
                status="FAILED",
                deadline=self.deadline,
            )
            for op in page.records:
                if isinstance(op, BulkOperation) and len(entry.operations) < self.limit:
                    entry.operations.setdefault(op.key, op)
            entry.offset += PAGE
            if page.count is not None:
                entry.listed_count = page.count
            count = page.count if page.count is not None else entry.offset
            if self.on_page is not None and count > PAGE:
                pages = math.ceil(min(count, self.limit, LAST_OFFSET) / PAGE)
                page_no = min(entry.offset // PAGE, pages)
                self.on_page(
                    f"reading failed operations of {entry.bulk_id}: page {page_no} of {pages}"
                )
            if not page.records or entry.offset >= count:
                if entry.listed_count is None:
                    entry.listed_count = len(entry.operations)
                return


@dataclass(frozen=True)
class Ending:
    """How the command ended: ``final`` (every bulk final), ``timeout``, ``interrupted``,
    ``terminated`` or ``error``; ``cause`` says it in words, ``kind`` is the error's type."""

    how: str
    cause: str = ""
    kind: str = ""

    @classmethod
    def of_error(cls, exc: BaseException) -> Ending:
        if isinstance(exc, KeyboardInterrupt):
            how = "terminated" if isinstance(exc, Terminated) else "interrupted"
            return cls(how, f"the command was {how}", how)
        if isinstance(exc, BulkctlError):
            cause = " ".join(exc.lines())
            return cls("error", f"{cause} (exit {int(exc.exit_code)})", type(exc).__name__)
        return cls("error", f"internal error: {type(exc).__name__}: {exc}", type(exc).__name__)


@dataclass
class WaitRecord:
    """What a wait learned, filled in as it runs; the reports read it with no request."""

    command: str  # 'wait', 'submit --wait', ...
    started: float  # monotonic
    started_wall: float
    bulk_ids: list[str] = field(default_factory=list)
    latest: dict[str, BulkProcess] = field(default_factory=dict)  # the poller's own dict
    ended_at: dict[str, float] = field(default_factory=dict)  # monotonic, when seen final
    failures: FailedOperations | None = None
    accepted: frozenset[str] = frozenset()  # final statuses that --accept passes
    ending: Ending | None = None
    reported: bool = False  # the reports are written once
    reports_failures: bool = False  # a report names failed operations: read them
    missing: str | None = None  # the bulk whose 404 ended the wait: its case names the cause

    @classmethod
    def start(cls, ctx: Context, command: str) -> WaitRecord:
        return cls(command, ctx.clock.monotonic(), ctx.clock.now())

    def bulk_ended(self, bulk: BulkProcess, now: float) -> None:
        if bulk.bulk_id is not None:
            self.ended_at.setdefault(bulk.bulk_id, now)

    def failures_of(self, bulk_id: str) -> BulkFailures | None:
        return self.failures.bulks.get(bulk_id) if self.failures is not None else None
