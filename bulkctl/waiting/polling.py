"""Polling bulks until they are final, shared by ``wait`` and ``watch``: one round of
requests at a time, at the lower cost, transient errors ridden out, each change reported
once, and the exit code that says how the bulks ended.

What a round costs (the API's quota is 100 requests a minute and 1,000 an hour):

- one GET per pending bulk, or the first pages of the non-final statuses (RUNNING, PAUSED,
  SUBMITTED), whose ``count`` says how many pages each takes: whichever is fewer requests;
- then one GET for each bulk that the listing no longer shows (it has just ended, or is in
  a status bulkctl does not know);
- on a terminal, details (operation counts, which list pages do not carry) for at most
  ``DETAILS_PER_POLL`` bulks, round-robin; progress is estimated in between.

``poll_interval`` is the default schedule: quick at first, growing towards 30 s.
"""

from __future__ import annotations

import math
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

import msgspec

from bulkctl.api.records import BULK_STATUSES, BulkProcess
from bulkctl.context import Context
from bulkctl.errors import TRANSIENT_ERRORS, BulkctlError, ExitCode, NetworkError, NotFound

if TYPE_CHECKING:
    from bulkctl.api.client import ApiClient

FINAL_CODES: dict[str, int] = {
    "COMPLETED": ExitCode.OK,
    "CANCELLED": ExitCode.CANCELLED,
    "PARTIALLY_COMPLETED": ExitCode.PARTIALLY_COMPLETED,
    "FAILED": ExitCode.FAILED,
}
# the statuses a listing round reads, the likeliest first (a round stops once all are found)
NON_FINAL = ("RUNNING", "PAUSED", "SUBMITTED")
PAGE = 100  # the API's largest page
DETAILS_PER_POLL = 5
FIRST_INTERVAL = 3.0  # seconds: a short bulk is reported within seconds
LAST_INTERVAL = 30.0
INTERVAL_SHARE = 0.1  # the pause grows with the time waited, at most 10% of it
T = TypeVar("T")


def poll_interval(waited: float) -> float:
    """The default pause after ``waited`` seconds: 3 s, then 10% of the time waited, at most
    30 s. So an end is reported within max(5 s, 10% of the time waited), and one bulk
    running for an hour costs about 145 requests."""
    return min(LAST_INTERVAL, max(FIRST_INTERVAL, waited * INTERVAL_SHARE))


def outcome_code(bulks: list[BulkProcess]) -> int:
    """0 when every bulk COMPLETED, else the worst final status's code."""
    return max((FINAL_CODES.get(b.status or "", ExitCode.OK) for b in bulks), default=ExitCode.OK)


def progress_numbers(bulk: BulkProcess) -> tuple[int, int | None]:
    """(operations done, total): done is completed + failed; total None when unusable."""
    done = bulk.count_of("COMPLETED") + bulk.count_of("FAILED")
    total = bulk.submitted_items_count
    if total is None or total <= 0:
        return done, None
    return done, total


def counts_read(bulk: BulkProcess) -> bool:
    """Whether ``bulk`` carries its operation counts (a list page does not): without them
    its operations done are not known, never 0."""
    return "operationStatusCounts" in bulk.raw


def done_of_total(bulk: BulkProcess) -> str:
    """'12/40' operations done, or '12/?' when the total is unknown."""
    done, total = progress_numbers(bulk)
    return f"{done:,}/{total:,}" if total is not None else f"{done:,}/?"


def unreachable(exc: BulkctlError) -> bool:
    """True for a connection refused or a host that does not resolve: nothing to wait for."""
    if not isinstance(exc, NetworkError) or exc.sent:
        return False
    cause: BaseException | None = exc
    seen = 0
    while cause is not None and seen < 10:
        if isinstance(cause, (ConnectionRefusedError, socket.gaierror)):
            return True
        cause = cause.__cause__ or cause.__context__
        seen += 1
    text = exc.message.lower()
    return exc.message.startswith("cannot connect") and any(
        word in text
        for word in ("refused", "name or service", "nodename", "getaddrinfo", "name resolution")
    )


@dataclass
class Snapshot:
    """Operations done at a moment (monotonic seconds), from a bulk's details."""

    at: float
    done: int


@dataclass
class Poller:
    """Learns the status of bulks at the lower cost, riding out transient errors; reports
    each change once. ``details`` asks for progress (a terminal); ``fail_unreachable``
    ends at once on a refused connection or an unknown host before any success."""

    ctx: Context
    client: ApiClient
    bulk_ids: list[str]
    latest: dict[str, BulkProcess] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)
    details: bool = False
    fail_unreachable: bool = True
    deadline: float | None = None  # absolute, on ctx.clock.monotonic()
    on_end: Callable[[BulkProcess], None] | None = None  # called once as each bulk ends
    counts: dict[str, int] = field(default_factory=dict)  # last `count` per listed status
    snapshots: dict[str, list[Snapshot]] = field(default_factory=dict)
    requests: int = 0  # requests sent by this poller (for tests and benchmarks)
    succeeded: bool = False
    missing: str | None = None  # the bulk the server said does not exist (404)
    _turn: int = 0

    # -- one round ----------------------------------------------------------------------------

    def poll(self) -> list[tuple[str, str | None, BulkProcess]]:
        """One round over the pending bulks; returns (id, previous status, bulk) for each change."""
        pending = self.pending()
        changes: list[tuple[str, str | None, BulkProcess]] = []
        if not pending:
            return changes
        detailed: set[str] = set()
        if self.list_cost(pending) < len(pending):
            found = self._by_listing(pending)
            if found is None:
                return changes  # the listing failed: noted, tried again next round
            for bulk_id in pending:
                bulk = found.get(bulk_id)
                if bulk is None:  # not in a non-final status any more: read it whole
                    self._fetch(bulk_id, changes)
                    detailed.add(bulk_id)
                else:
                    self._record(bulk_id, self._merged(bulk_id, bulk), changes)
            if self.details:
                for bulk_id in self._details_turn(detailed):
                    self._fetch(bulk_id, changes)
        else:
            for bulk_id in pending:
                self._fetch(bulk_id, changes)
        return changes

    def learned(self, bulks: list[BulkProcess]) -> list[tuple[str, str | None, BulkProcess]]:
        """Final bulks a listing already showed: recorded as if polled, with no request."""
        changes: list[tuple[str, str | None, BulkProcess]] = []
        for bulk in bulks:
            if bulk.bulk_id in self.bulk_ids and bulk.is_final and bulk.bulk_id not in self.latest:
                self._record(bulk.bulk_id, bulk, changes)
        return changes

    def list_cost(self, pending: list[str]) -> int:
        """Requests a listing round would take, from the last counts seen (1 page each first)."""
        if len(pending) <= 1:
            return len(NON_FINAL)
        return sum(max(1, math.ceil(self.counts.get(s, 1) / PAGE)) for s in NON_FINAL)

    def pending(self) -> list[str]:
        return [i for i in self.bulk_ids if i not in self.latest or not self.latest[i].is_final]

    # -- progress -------------------------------------------------------------------------------

    def estimate(self, bulk_id: str, now: float) -> tuple[int, int | None, bool]:
        """(done, total, estimated): the last details, carried forward at the rate seen
        between the last two while the bulk is RUNNING."""
        bulk = self.latest.get(bulk_id)
        if bulk is None:
            return 0, None, False
        done, total = progress_numbers(bulk)
        shots = self.snapshots.get(bulk_id, [])
        if bulk.status != "RUNNING" or len(shots) < 2 or total is None:
            return done, total, False
        (t0, d0), (t1, d1) = (shots[-2].at, shots[-2].done), (shots[-1].at, shots[-1].done)
        if t1 <= t0 or d1 <= d0 or now <= t1:
            return done, total, False
        guess = min(total, int(d1 + (d1 - d0) / (t1 - t0) * (now - t1)))
        return max(done, guess), total, guess > done

    # -- plumbing -----------------------------------------------------------------------------

    def _fetch(self, bulk_id: str, changes: list[tuple[str, str | None, BulkProcess]]) -> None:
        try:
            bulk = self._ask(lambda: self.client.get_bulk(bulk_id, deadline=self.deadline), bulk_id)
        except NotFound:
            self.missing = bulk_id  # the report names the cause on this bulk's case
            raise
        if bulk is None:
            return
        self.snapshots.setdefault(bulk_id, []).append(
            Snapshot(self.ctx.clock.monotonic(), progress_numbers(bulk)[0])
        )
        del self.snapshots[bulk_id][:-2]
        self._record(bulk_id, bulk, changes)

    def _ask(self, call: Callable[[], T], bulk_id: str | None) -> T | None:
        """One request; a transient error is noted (once) and None returned."""
        self.requests += 1
        client = self.client
        policy = client.retry
        if self.fail_unreachable and not self.succeeded:
            # before any success a refused connection is not retried: it ends the command
            client.retry = msgspec.structs.replace(policy, attempts=1)
        try:
            result = call()
        except TRANSIENT_ERRORS as exc:
            if self.fail_unreachable and not self.succeeded and unreachable(exc):
                raise
            self._problem(bulk_id, exc.message)
            return None
        finally:
            client.retry = policy
        self.succeeded = True
        if bulk_id is not None:
            self.problems.pop(bulk_id, None)
        else:
            self.problems.clear()
        return result

    def _problem(self, bulk_id: str | None, message: str) -> None:
        keys = [bulk_id] if bulk_id is not None else self.pending()
        if all(self.problems.get(k) == message for k in keys):
            return
        where = f"bulk {bulk_id}: " if bulk_id is not None else ""
        self.ctx.note(f"{where}{message}; still waiting")
        for key in keys:
            self.problems[key] = message

    def _record(
        self, bulk_id: str, bulk: BulkProcess, changes: list[tuple[str, str | None, BulkProcess]]
    ) -> None:
        before = self.latest.get(bulk_id)
        self.latest[bulk_id] = bulk
        if before is None or before.raw != bulk.raw:
            changes.append((bulk_id, before.status if before else None, bulk))
        if bulk.is_final and (before is None or not before.is_final) and self.on_end is not None:
            self.on_end(bulk)

    def _merged(self, bulk_id: str, listed: BulkProcess) -> BulkProcess:
        """A listed bulk (no counts) in the same status as before keeps the details known."""
        before = self.latest.get(bulk_id)
        if before is not None and before.status == listed.status:
            return before
        return listed

    def _by_listing(self, pending: list[str]) -> dict[str, BulkProcess] | None:
        """The pending bulks found in the non-final statuses' pages; None when a page failed."""
        wanted = set(pending)
        found: dict[str, BulkProcess] = {}
        for status in NON_FINAL:
            offset = 0
            while True:
                page = self._ask_page(status, offset)
                if page is None:
                    return None
                records, count = page
                self.counts[status] = count
                for bulk in records:
                    if bulk.bulk_id in wanted and bulk.status == status:
                        found[bulk.bulk_id] = bulk
                offset += PAGE
                if len(found) == len(wanted) or offset >= count or not records:
                    break
            if len(found) == len(wanted):
                break
        return found

    def _ask_page(self, status: str, offset: int) -> tuple[list[BulkProcess], int] | None:
        def call() -> tuple[list[BulkProcess], int]:
            page = self.client.list_bulks(
                offset=offset, limit=PAGE, status=status, deadline=self.deadline
            )
            count = page.count if page.count is not None else offset + len(page.records)
            return [r for r in page.records if isinstance(r, BulkProcess)], count

        return self._ask(call, None)

    def _details_turn(self, skip: set[str]) -> list[str]:
        """At most DETAILS_PER_POLL running or paused bulks, taking turns."""
        moving = [
            i
            for i in self.pending()
            if i not in skip
            and (self.latest[i].status if i in self.latest else None) in ("RUNNING", "PAUSED")
        ]
        if not moving:
            return []
        start = self._turn % len(moving)
        chosen = (moving[start:] + moving[:start])[:DETAILS_PER_POLL]
        self._turn = start + len(chosen)
        return chosen


def describe_wait(bulk_id: str, bulk: BulkProcess) -> str | None:
    """The note for a status that will not end on its own."""
    status = bulk.status
    if status == "SUBMITTED":
        return f"bulk {bulk_id} is SUBMITTED (not started); waiting for it to be executed"
    if status == "PAUSED":
        return f"bulk {bulk_id} is PAUSED; waiting for it to be resumed or cancelled"
    if status not in BULK_STATUSES:
        return f"bulk {bulk_id} is in a status bulkctl does not know ({status!r}); waiting"
    return None
