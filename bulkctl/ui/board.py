"""What the main screen knows, and how it spends requests: no Textual here.

A refresh reads one page per selected status (one page in all when none is selected), then
details for at most ``DETAILS_CAP`` visible RUNNING or PAUSED rows, and the counts per status
at most once a minute. The interval starts at ``FIRST_INTERVAL`` and doubles up to
``LONGEST_INTERVAL`` while no status changes; a key press (``reset``) starts it over.

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
PROGRESS_WIDTH = 9  # "▰▰▰▰ 100%"
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


@dataclass
class Extras:
    details: dict[str, BulkProcess] = field(default_factory=dict)
    counts: dict[str, int | None] | None = None


@dataclass
class Board:
    backend: Backend
    page_size: int = PAGE_SIZE
    selected: list[str] = field(default_factory=list)
    operation: str = ""
    rows: list[BulkProcess] = field(default_factory=list)
    details: dict[str, BulkProcess] = field(default_factory=dict)
    counts: dict[str, int | None] = field(default_factory=dict)
    counts_at: float | None = None
    changed: dict[str, float] = field(default_factory=dict)  # row key -> monotonic time
    interval: float = FIRST_INTERVAL
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

    def set_operation(self, text: str) -> None:
        self.operation = text.strip()
        self.reset()

    def reset(self) -> None:
        """A key that asks for fresh data: the interval starts over."""
        self.interval = FIRST_INTERVAL

    def shown(self) -> list[BulkProcess]:
        """The loaded rows that pass the client-side operation filter."""
        if not self.operation:
            return self.rows
        wanted = without_hidden(self.operation).lower()  # as it reads: no zero widths
        return [b for b in self.rows if wanted in without_hidden(b.operation or "").lower()]

    # -- refresh ------------------------------------------------------------------------------

    def read_rows(self) -> list[BulkProcess]:
        """One page per selected status (one page in all with none), newest first."""
        streams: list[str | None] = list(self.selected) or [None]
        seen: dict[str, BulkProcess] = {}
        for status in streams:
            for bulk in self.backend.list_bulks(status, self.page_size):
                seen.setdefault(bulk.key, bulk)
        rows = list(seen.values())
        if len(streams) > 1 and all((b.bulk_id or "").isdigit() for b in rows):
            rows.sort(key=lambda b: int(b.bulk_id or 0), reverse=True)  # ids grow with time
        return rows

    def apply_rows(self, rows: list[BulkProcess]) -> None:
        """Take a new page: rows whose status changed, and new rows, are marked for a while."""
        now = self.backend.monotonic()
        before = {b.key: b.status for b in self.rows}
        compare = self.loaded and not self._streams_changed
        for bulk in rows:
            if compare and before.get(bulk.key, "") != bulk.status:
                self.changed[bulk.key] = now
                self._status_changed = True
        self.rows = rows
        self.loaded = True
        self._compared = compare
        self._streams_changed = False
        self.error = None

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
            extras.counts = {s: self.backend.count(s) for s in BULK_STATUSES}
        return extras

    def apply_extras(self, extras: Extras) -> None:
        self.details.update(extras.details)
        if extras.counts is not None:
            self.counts = extras.counts
            self.counts_at = self.backend.monotonic()

    def finish(self) -> float:
        """End of a refresh: the seconds until the next one."""
        if self._status_changed:
            self.interval = FIRST_INTERVAL
        elif self._compared:
            self.interval = min(self.interval * 2, LONGEST_INTERVAL)
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
        self.interval = FIRST_INTERVAL
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

    def progress(self, bulk: BulkProcess) -> tuple[int, int] | None:
        """(done, total) for a RUNNING or PAUSED row whose details were read."""
        if bulk.status not in IN_FLIGHT or not bulk.bulk_id:
            return None
        detail = self.details.get(bulk.bulk_id)
        total = bulk.submitted_items_count
        if detail is None or total is None or total <= 0:
            return None
        done = detail.count_of("COMPLETED") + detail.count_of("FAILED")
        return min(done, total), total


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
