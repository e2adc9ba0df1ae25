"""What the main screen knows, and how it spends requests: no Textual here.

A refresh reads every loaded page of each selected status (of all bulks when none is
selected), so no row keeps the values it was first read with, then details for at most
``DETAILS_CAP`` visible RUNNING or PAUSED rows, and the counts per status at most once a
minute. The interval starts at ``FIRST_INTERVAL`` and doubles up to ``LONGEST_INTERVAL``
while no status changes; a key press (``reset``) starts it over. Both are multiplied by the
pages a refresh reads per listing, so more rows loaded never spend more requests a minute:
the pages are read as often, together. Pages past the first are loaded only when asked
(``read_more``: a key, or the cursor on the last row); selecting other statuses drops them.

The header's counts never contradict the table, and never count a bulk twice: each count is
read with the newest bulks it counts named (one page of that status, the same one request),
so a loaded row the counts named under another status than the row shows now is counted
where the row shows it, once, whichever was read first (``derive_counts``, from the last
counts read and the rows, each refresh); a selected status takes its count from its own
listing's total, read with its rows; an action of the ui's own asks for the counts again
(``recount``).

Reads (``read_*``) block and change nothing, so they run in a worker thread; ``apply_*``
take their results on the app's thread.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TypeVar

from bulkctl.api.records import BULK_STATUSES, BulkOperation, BulkProcess
from bulkctl.output import fields as shared
from bulkctl.output.outcome import Outcome, outcome_of
from bulkctl.output.render import Field, cell_text
from bulkctl.safetext import without_hidden
from bulkctl.ui.backend import Backend

PAGE_SIZE = 100
DETAILS_CAP = 5
COUNTS_EVERY = 60.0
FIRST_INTERVAL = 5.0
LONGEST_INTERVAL = 30.0
MARK_SECONDS = 5.0
STATUS_KEYS: dict[str, str] = {
    str(i): s for i, s in enumerate(BULK_STATUSES, start=1)
}  # summary's order
IN_FLIGHT = ("RUNNING", "PAUSED")
PROGRESS_FIELD = Field("progress", "PROGRESS")  # the ui's own column: a bar and a percentage
PROGRESS_WIDTH = 9  # "████ 100%"
T = TypeVar("T")


def board_fields() -> list[Field]:
    """The main table's columns: those of ``list``'s table on a terminal (render's
    ``BULK_TABLE_FIELDS``, read when asked, so a column added there shows here), then
    PROGRESS."""
    return [*(f for f in shared.BULK_TABLE_FIELDS if not f.wide_only), PROGRESS_FIELD]


def board_cell(field: Field, bulk: BulkProcess, now: float) -> str:
    """One cell of the main table as ``list`` writes it on a terminal, safe; "-" when empty."""
    return cell_text(field, field.value(bulk.raw, now)) or "-"


def in_background(call: Callable[[], T]) -> Future[T]:
    """Start ``call`` in a daemon thread (quitting never waits for it); its future."""
    future: Future[T] = Future()

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return  # cancelled before it began; once running it cannot be cancelled
        try:
            future.set_result(call())
        except BaseException as exc:
            future.set_exception(exc)

    threading.Thread(target=run, daemon=True, name="bulkctl-ui-request").start()
    return future


SORTS = ("age", "status", "progress")


@dataclass
class Listing:
    """What a refresh read: the loaded rows of each stream (a selected status, or None for
    all) read again, each stream's total as the listing reported it, and how many pages
    the stream that needed the most took."""

    pages: dict[str | None, list[BulkProcess]] = field(default_factory=dict)
    totals: dict[str | None, int | None] = field(default_factory=dict)
    reads: int = 1
    covered: dict[str | None, int] = field(default_factory=dict)  # rows it was to read again


@dataclass
class Extras:
    details: dict[str, BulkProcess] = field(default_factory=dict)
    counts: dict[str, int | None] | None = None
    named: dict[str, Named] = field(default_factory=dict)  # with the counts: who they count


@dataclass(frozen=True)
class Named:
    """The newest bulks of one status, read with its count: whom the count surely counts,
    and (``complete``, or ``oldest``: ids grow with time) whom it surely does not."""

    keys: frozenset[str]
    complete: bool  # the page named every bulk the count counts
    oldest: int | None  # the oldest id it named, when every id named is digits

    @classmethod
    def of(cls, records: Sequence[BulkProcess], count: int | None) -> Named:
        ids = [b.bulk_id or "" for b in records]
        digits = bool(ids) and all(i.isdigit() for i in ids)
        return cls(
            keys=frozenset(b.key for b in records),
            complete=count is not None and len(records) >= count,
            oldest=min(int(i) for i in ids) if digits else None,
        )

    def counts(self, bulk: BulkProcess) -> bool | None:
        """Whether the count counts ``bulk``: True, False, or None (cannot tell)."""
        if bulk.key in self.keys:
            return True
        if self.complete:
            return False
        newer = self.oldest is not None and (bulk.bulk_id or "").isdigit()
        return False if newer and int(bulk.bulk_id or 0) > (self.oldest or 0) else None


@dataclass
class Board:
    backend: Backend
    page_size: int = PAGE_SIZE
    selected: list[str] = field(default_factory=list)
    operation: str = ""
    rows: list[BulkProcess] = field(default_factory=list)
    loaded_rows: dict[str | None, list[BulkProcess]] = field(default_factory=dict)
    totals: dict[str | None, int | None] = field(default_factory=dict)
    sort: str = "age"
    as_of: float | None = None  # wall time of the last listing read
    details: dict[str, BulkProcess] = field(default_factory=dict)
    counts: dict[str, int | None] = field(default_factory=dict)  # the header's: derived
    counted: dict[str, int | None] = field(default_factory=dict)  # as the counts were read
    named: dict[str, Named] = field(default_factory=dict)
    counted_as: dict[str, str] = field(default_factory=dict)  # row key -> status, see below
    counts_at: float | None = None
    changed: dict[str, float] = field(default_factory=dict)  # row key -> monotonic time
    interval: float = FIRST_INTERVAL
    pages: int = 1  # pages a refresh reads per listing: the intervals' multiplier
    loaded: bool = False
    error: str | None = None
    _status_changed: bool = False
    _streams_changed: bool = False  # other statuses selected: the next page is not "changes"
    _compared: bool = False  # the last page could be compared with the one before

    # -- filters ------------------------------------------------------------------------------

    def toggle(self, status: str) -> None:
        if status in self.selected:
            self.selected.remove(status)
        else:
            self.selected.append(status)
        self.selected.sort(key=BULK_STATUSES.index)
        self._streams_changed = True
        self.reset()

    def clear(self) -> None:
        self.selected.clear()
        self._streams_changed = True
        self.reset()

    def next_sort(self) -> str:
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        return self.sort

    def recount(self) -> None:
        """Read the counts with the next refresh (after a change of the ui's own)."""
        self.counts_at = None

    def streams(self) -> list[str | None]:
        return list(self.selected) or [None]

    def set_operation(self, text: str) -> None:
        self.operation = text.strip()
        self.reset()

    def reset(self) -> None:
        """A key that asks for fresh data: the interval starts over."""
        self.interval = FIRST_INTERVAL

    def shown(self) -> list[BulkProcess]:
        """The loaded rows that pass the client-side operation filter, in the chosen order."""
        rows = self.rows
        if self.operation:
            wanted = without_hidden(self.operation).lower()  # as it reads: no zero widths
            rows = [b for b in rows if wanted in without_hidden(b.operation or "").lower()]
        if self.sort == "status":
            order = {s: i for i, s in enumerate(BULK_STATUSES)}
            rows = sorted(rows, key=lambda b: order.get(b.status or "", len(order)))
        elif self.sort == "progress":
            rows = sorted(rows, key=self._progress_order)
        return rows

    def _progress_order(self, bulk: BulkProcess) -> float:
        """Most done first; rows whose progress was not read last."""
        outcome = self.outcome(bulk)
        if outcome is None or not outcome.total:
            return 2.0
        return 1.0 - outcome.ended / outcome.total

    def loaded_count(self) -> int:
        return len(self.rows)

    def total(self) -> int | None:
        """How many rows the listings say there are (None when one did not say)."""
        totals = [self.totals.get(s) for s in self.streams()]
        if any(t is None for t in totals):
            return None
        return sum(t or 0 for t in totals)

    def has_more(self) -> bool:
        return any(self._offset(s) < (self.totals.get(s) or 0) for s in self.streams())

    def _offset(self, stream: str | None) -> int:
        return len(self.loaded_rows.get(stream, []))

    # -- refresh ------------------------------------------------------------------------------

    def read_rows(self) -> Listing:
        """Every loaded page of each selected status (of all with none), newest first: the
        first page only when other statuses were just selected. A row read twice (the
        listing moved between pages) is kept once."""
        listing = Listing()
        for status in self.streams():
            loaded = 0 if self._streams_changed else self._offset(status)
            pages = max(1, -(-loaded // self.page_size))
            listing.covered[status] = loaded
            rows: dict[str, BulkProcess] = {}
            for index in range(pages):
                page = self.backend.list_page(status, index * self.page_size, self.page_size)
                for bulk in page.records:
                    rows.setdefault(bulk.key, bulk)
                listing.totals[status] = page.count
                listing.reads = max(listing.reads, index + 1)
                if len(page.records) < self.page_size:
                    break  # the listing shrank: no page after this one
            listing.pages[status] = list(rows.values())
        return listing

    def read_more(self) -> Listing:
        """The next page of each stream that has more (a key, or the cursor at the end)."""
        listing = Listing()
        for status in self.streams():
            offset = self._offset(status)
            if offset >= (self.totals.get(status) or 0):
                continue
            page = self.backend.list_page(status, offset, self.page_size)
            listing.pages[status] = list(page.records)
            listing.totals[status] = page.count
        return listing

    def apply_more(self, listing: Listing) -> int:
        """Add pages read by ``read_more``; how many rows were new."""
        before = len(self.rows)
        for status, records in listing.pages.items():
            if status in self.loaded_rows:
                self.loaded_rows[status] = [*self.loaded_rows[status], *records]
                self.totals[status] = listing.totals.get(status)
        self._merge()
        self.derive_counts()  # the new rows as first seen: where they were counted
        return len(self.rows) - before

    def apply_rows(self, listing: Listing) -> None:
        """Take the rows read again (every loaded page): rows whose status changed are marked
        for a while, and the counts follow what the rows show."""
        now = self.backend.monotonic()
        before = {b.key: b.status for b in self.rows}
        compare = self.loaded and not self._streams_changed
        if self._streams_changed:
            self.loaded_rows = {}
        for status, rows in listing.pages.items():
            keys = {b.key for b in rows}  # a page `n` added while this was read stays
            more = self.loaded_rows.get(status, [])[listing.covered.get(status, 0) :]
            self.loaded_rows[status] = [*rows, *(b for b in more if b.key not in keys)]
        self.totals = dict(listing.totals)
        self.pages = listing.reads
        self._merge()
        for bulk in self.rows:
            was = before.get(bulk.key, "")
            if compare and was != bulk.status:
                self.changed[bulk.key] = now
                self._status_changed = True
        self.derive_counts()
        self.loaded = True
        self.as_of = self.backend.now()
        self._compared = compare
        self._streams_changed = False
        self.error = None

    def derive_counts(self) -> None:
        """The header's counts from the last counts read and the rows as read now: each
        loaded row is counted once, where the table shows it (``_counted_in`` says where the
        counts read counted it); a selected status is its listing's total, read with its rows."""
        counts = dict(self.counted)
        for bulk in self.rows if self.named else ():
            status = bulk.status or ""
            counted_in = self._counted_in(bulk)
            for other in counted_in:
                if other != status and counts.get(other) is not None:
                    counts[other] = max((counts.get(other) or 0) - 1, 0)
            if status not in counted_in and counts.get(status) is not None:
                counts[status] = (counts.get(status) or 0) + 1
        for status in self.selected:
            if self.totals.get(status) is not None:
                counts[status] = self.totals[status]
        self.counts = counts

    def _counted_in(self, bulk: BulkProcess) -> list[str]:
        """Where the last counts read counted ``bulk``: under each status whose reading named
        it (two, when it moved between them); nowhere when it is newer than all they named;
        else (older than the bulks they named) in the status the rows first showed it in
        since the counts were read (read just before them, or with ``n`` after)."""
        said = {status: named.counts(bulk) for status, named in self.named.items()}
        named_in = [status for status, yes in said.items() if yes]
        if named_in or all(yes is False for yes in said.values()):
            return named_in
        return [self.counted_as.setdefault(bulk.key, bulk.status or "")]

    def _merge(self) -> None:
        seen: dict[str, BulkProcess] = {}
        for status in self.streams():
            for bulk in self.loaded_rows.get(status, []):
                seen.setdefault(bulk.key, bulk)
        rows = list(seen.values())
        if len(self.loaded_rows) > 1 and all((b.bulk_id or "").isdigit() for b in rows):
            rows.sort(key=lambda b: int(b.bulk_id or 0), reverse=True)  # ids grow with time
        self.rows = rows

    def wanted_details(self, visible: Sequence[str], focus: str | None = None) -> list[str]:
        """Ids whose details (progress) to read: the focused one, then visible RUNNING rows,
        then visible PAUSED rows not read since they paused; at most DETAILS_CAP."""
        by_id = {b.bulk_id: b for b in self.rows if b.bulk_id}
        ids: list[str] = [focus] if focus else []
        for bulk_id in visible:
            bulk = by_id.get(bulk_id)
            if bulk is None or bulk.status not in IN_FLIGHT or bulk_id in ids:
                continue
            cached = self.details.get(bulk_id)
            if bulk.status == "PAUSED" and cached is not None and cached.status == "PAUSED":
                continue  # a paused bulk does not move
            ids.append(bulk_id)
        return ids[:DETAILS_CAP]

    def counts_due(self) -> bool:
        return self.counts_at is None or self.backend.monotonic() - self.counts_at >= COUNTS_EVERY

    def read_extras(self, visible: Sequence[str], focus: str | None = None) -> Extras:
        extras = Extras()
        for bulk_id in self.wanted_details(visible, focus):
            extras.details[bulk_id] = self.backend.get_bulk(bulk_id)
        if self.counts_due():
            extras.counts = {}
            for status in BULK_STATUSES:
                page = self.backend.count(status, self.page_size)
                extras.counts[status] = page.reported_count
                extras.named[status] = Named.of(page.records, page.reported_count)
        return extras

    def apply_extras(self, extras: Extras) -> None:
        self.details.update(extras.details)
        if extras.counts is not None:
            self.counted, self.named = extras.counts, extras.named
            self.counted_as = {}  # taken from the rows read just before
            self.counts_at = self.backend.monotonic()
            self.derive_counts()

    def finish(self) -> float:
        """End of a refresh: the seconds until the next one, FIRST_INTERVAL to
        LONGEST_INTERVAL, times the pages a listing took (as many list requests a minute)."""
        first, longest = FIRST_INTERVAL * self.pages, LONGEST_INTERVAL * self.pages
        if self._status_changed:
            self.interval = first
        elif self._compared:
            self.interval = min(self.interval * 2, longest)
        self.interval = max(self.interval, first)
        self._status_changed = False
        return self.interval

    def refresh(self, visible: Sequence[str] = (), focus: str | None = None) -> float:
        """A whole refresh on this thread (tests and the benchmark); the next interval."""
        self.apply_rows(self.read_rows())
        shown = list(visible) or [b.bulk_id for b in self.shown()[:20] if b.bulk_id]
        self.apply_extras(self.read_extras(shown, focus))
        return self.finish()

    def fail(self, message: str) -> float:
        """A refresh that failed: the rows stay, the error shows, and it is tried again soon."""
        self.error = message
        self._status_changed = False
        self.interval = FIRST_INTERVAL * self.pages
        return self.interval

    # -- marks --------------------------------------------------------------------------------

    def marked(self, key: str) -> bool:
        at = self.changed.get(key)
        return at is not None and self.backend.monotonic() - at < MARK_SECONDS

    def expire_marks(self) -> bool:
        """Forget marks older than MARK_SECONDS; True when one went (the table needs redrawing)."""
        now = self.backend.monotonic()
        old = [k for k, at in self.changed.items() if now - at >= MARK_SECONDS]
        for key in old:
            del self.changed[key]
        return bool(old)

    def outcome(self, bulk: BulkProcess) -> Outcome | None:
        """A row's operations by outcome, when its details were read (None: not read)."""
        detail = self.details.get(bulk.bulk_id or "") if bulk.bulk_id else None
        if detail is None or not detail.operation_status_counts:
            return None
        outcome = outcome_of(detail)
        if outcome.total is None:
            return None
        return outcome


def age(ms: int | None, now: float) -> str:
    """How long ago a millisecond timestamp was, in one short unit: 45s, 12m, 3h, 5d."""
    if ms is None:
        return "-"
    seconds = max(0, int(now - ms / 1000))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def error_code(operation: BulkOperation) -> str:
    """The errorCode in a failed operation's responsePayload JSON, else '(none)'."""
    try:
        body = json.loads(operation.response_payload or "")
    except (ValueError, RecursionError):
        return "(no JSON)"
    code = body.get("errorCode") if isinstance(body, dict) else None
    return code if isinstance(code, str) and code else "(none)"


def group_failures(operations: Sequence[BulkOperation]) -> list[tuple[str, int]]:
    """Failed operations counted by errorCode, most frequent first."""
    counts: dict[str, int] = {}
    for op in operations:
        code = error_code(op)
        counts[code] = counts.get(code, 0) + 1
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def pretty_payload(text: str | None) -> str:
    """A payload as one line of JSON when it parses, else as sent (made safe by the caller)."""
    if text is None:
        return "-"
    try:
        return json.dumps(json.loads(text), ensure_ascii=False, separators=(", ", ": "))
    except (ValueError, RecursionError):
        return text
