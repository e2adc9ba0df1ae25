"""Offset/limit paging shared by every listing command: concurrent, ordered, consistent.

The API pages with ``offset``/``limit`` (at most 100 a request) over a list that may
change while it is read: new bulks arrive at the top (everything shifts down) and
records leave a status filter (everything after shifts up). The invariants kept here:

* records come out in the server's order, each id at most once;
* when records are added while paging, nothing that existed when the listing began is
  skipped. Every answer carries the total ``count``; a page whose count is lower than its
  predecessor's was answered before records its predecessor saw were added, so a gap may
  lie between them: from there on, pages are re-read one after another (each after the
  one before, so shifts only cause duplicates, which are dropped);
* a shrinking total is reported (records may be missing), never hidden;
* every listing ends, whatever the server says: requests are bounded, empty pages and
  pages that add nothing new stop it.

Pages are fetched concurrently (``concurrency`` requests at a time, and up to
``PAGES_AHEAD`` pages per worker planned ahead of the reader, so that a slow page holds up
the output but not the workers) and yielded as soon as they and every page before them
have arrived, so output streams. A listing that stops early (a server that repeats itself,
a short page, a shrinking count) drops the pages planned past the stop: those not yet
sent are never sent, so it costs at most ``PAGES_AHEAD * concurrency`` requests more.

Several streams (one a status filter) are read one after another, or merged into one
newest-first list (``merge_by``): the API and its emulator list each status newest first,
with ids that grow with age... newer bulks have larger numeric ids. The merge compares
the streams' next ids as numbers when both are digits; a stream whose ids are not digits,
or not descending, keeps the order the server gave (it is never re-sorted) and is reported.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import msgspec

from bulkctl.api.records import INT32_MAX, Page

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

PAGE_SIZE = 100
STALE_PAGES = 3  # consecutive pages adding nothing new: the server repeats itself
# pages per worker planned ahead of the reader: with one, the workers waited whenever the
# oldest page was the slowest (6.3 of 8 requests in flight on average, against the
# emulator at 20 ms); with two they keep busy
PAGES_AHEAD = 2
UNKNOWN_COUNT_MAX_REQUESTS = 10_000
MAX_REQUESTS = 10_000  # per listing, all streams together: the API's daily quota
CAPPED = (
    f"stopped after {MAX_REQUESTS:,} requests, the most one listing sends (the API's daily quota)"
)

FetchPage = Callable[[int, int], Page]


@contextmanager
def page_pool(concurrency: int) -> Iterator[ThreadPoolExecutor | None]:
    """Worker threads for concurrent pages (None when sequential).

    On a normal end it waits for requests still in flight (a prefetch the output did not
    need), so none outlives the client; on an error or Ctrl-C it leaves them behind.
    """
    if concurrency <= 1:
        yield None
        return
    # concurrent.futures only when pages are fetched: `list --help` need not pay for it
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="bulkctl-page")
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True, cancel_futures=True)


@contextmanager
def listing(
    fetches: Sequence[FetchPage],
    *,
    concurrency: int,
    key: Callable[[Any], str | None],
    offset: int,
    wanted: int | None,
    on_page: Callable[[], None] | None = None,
    merge_by: Callable[[Any], str | None] | None = None,
    on_plan: Callable[[int], None] | None = None,
) -> Iterator[tuple[Generator[Any, None, None], Pager]]:
    """The records of ``fetches`` in order (see ``Pager.read``), and the pager for its report.

    ``on_page`` runs each time a page's records have been consumed, before the next page is
    waited for: the place to flush output, so rows appear as their page arrives. With
    ``merge_by`` (a record's id) several streams become one list, newest first
    (``Pager.read_merged``); ``offset`` and ``wanted`` apply to that list. ``on_plan`` hears
    once how many more requests a stream needs, when its first page told its size.
    """
    with page_pool(concurrency) as pool:
        pager = Pager(concurrency=concurrency, key=key, pool=pool, on_page=on_page)
        pager.on_plan = on_plan
        if merge_by is not None and len(fetches) > 1:
            records = pager.read_merged(fetches, order_id=merge_by, offset=offset, wanted=wanted)
        else:
            records = pager.read(fetches, offset=offset, wanted=wanted)
        yield _primed(records), pager


def _primed(records: Generator[Any, None, None]) -> Generator[Any, None, None]:
    """``records`` with its first record read now: an error on the first page (a 404, a
    refused key) comes before the caller writes anything, such as a table's header."""
    try:
        first = next(records)
    except StopIteration:
        return records
    return _resumed(first, records)


def _resumed(first: Any, rest: Generator[Any, None, None]) -> Generator[Any, None, None]:
    try:
        yield first
        yield from rest
    finally:
        rest.close()


class PagingReport(msgspec.Struct):
    """What happened while paging, for warnings and ``--strict``."""

    requests: int = 0
    shrank_from: int | None = None
    shrank_to: int | None = None
    stopped: str | None = None  # why paging stopped early, when it did
    unread: bool = False  # a stream the output did not need was never asked for
    totals: list[int | None] = msgspec.field(default_factory=list)
    unordered: list[int] = msgspec.field(default_factory=list)  # merged streams not newest first

    def order_note(self, labels: Sequence[str]) -> str | None:
        """Which merged streams kept the server's order because their ids did not sort."""
        if not self.unordered:
            return None
        names = ", ".join(labels[i] if i < len(labels) else str(i) for i in self.unordered)
        return (
            f"{names}: ids not digits or not newest first; "
            "those bulks are kept in the order the server gave"
        )

    def more_note(self, written: int, offset: int) -> str | None:
        """'20 of 1,234 shown ...' when the server holds more than was written."""
        shown = self.more_shown(written, offset)
        return f"{shown}; use --limit N or --all for more" if shown else None

    def more_shown(self, written: int, offset: int) -> str | None:
        """'20 of 1,234 shown' (more_note without its fix) when more were left unread."""
        if self.unread:
            return f"{written:,} shown; more in the other statuses"
        if not self.totals or None in self.totals:
            return None
        total = sum(t for t in self.totals if t is not None)
        if written + offset >= total:
            return None
        return f"{written:,} of {total:,} shown"

    def note_shrink(self, before: int, after: int) -> None:
        if self.shrank_from is None:
            self.shrank_from = before
        self.shrank_to = after if self.shrank_to is None else min(self.shrank_to, after)


class Stream(msgspec.Struct):
    """One server-side listing (one status filter) to read from ``offset``."""

    fetch: FetchPage
    prefetched: Future[Page] | None = None
    prefetched_limit: int = 0
    left: int = 0  # requests this stream may still send
    stale: int = 0  # its pages in a row that added nothing new


class Pager:
    """Reads one or more streams in order, yielding raw record objects, de-duplicated."""

    def __init__(
        self,
        *,
        concurrency: int,
        key: Callable[[Any], str | None],
        pool: ThreadPoolExecutor | None = None,
        on_page: Callable[[], None] | None = None,
    ) -> None:
        self.concurrency = max(1, concurrency)
        self.on_page = on_page  # called when a page's records are out, before waiting for more
        self.key = key
        self.pool = pool
        self.seen: set[str] = set()
        self.report = PagingReport()
        self.on_plan: Callable[[int], None] | None = None  # requests a stream still needs

    # -- public ---------------------------------------------------------------------------

    def read(
        self, fetches: Sequence[FetchPage], *, offset: int, wanted: int | None
    ) -> Generator[Any, None, None]:
        """Records of every stream in turn, skipping the first ``offset`` of the combined list."""
        streams = [Stream(f) for f in fetches]
        first_limit = PAGE_SIZE if wanted is None else min(PAGE_SIZE, max(1, wanted))
        if offset == 0 and self.pool is not None and len(streams) > 1:
            for stream in streams[1:]:  # every stream starts at 0: ask for all first pages now
                stream.prefetched = self.pool.submit(stream.fetch, 0, first_limit)
                stream.prefetched_limit = first_limit
        remaining_offset = offset
        remaining = wanted
        for index, stream in enumerate(streams):
            if remaining is not None and remaining <= 0:
                self._count_unread(streams[index:])
                break
            emitted = 0
            for record in self._read_stream(stream, min(remaining_offset, INT32_MAX), remaining):
                emitted += 1
                yield record
            if remaining is not None:
                remaining -= emitted
            if remaining_offset:  # what this stream held counts towards the combined offset
                remaining_offset = max(0, remaining_offset - (self.report.totals[-1] or 0))

    def read_merged(
        self,
        fetches: Sequence[FetchPage],
        *,
        order_id: Callable[[Any], str | None],
        offset: int,
        wanted: int | None,
    ) -> Generator[Any, None, None]:
        """Records of every stream as one list, newest first, skipping its first ``offset``.

        Each stream is read lazily, as far as the merged list needs (``offset + wanted``
        at most). The next record is the one with the largest numeric id among the streams'
        next ones; an id that is not digits loses to none, so ties and such streams fall
        back to the order the streams were given. Every stream keeps its own order.
        """
        streams = [Stream(f) for f in fetches]
        need = None if wanted is None else offset + wanted
        first_limit = PAGE_SIZE if need is None else min(PAGE_SIZE, max(1, need))
        if self.pool is not None:
            for stream in streams[1:]:  # the merge needs every stream's head: ask at once
                stream.prefetched = self.pool.submit(stream.fetch, 0, first_limit)
                stream.prefetched_limit = first_limit
        readers = [self._read_stream(s, 0, need) for s in streams]
        done = object()
        heads: list[Any] = [next(r, done) for r in readers]
        for index, head in enumerate(heads):
            if head is not done and not _digits(order_id(head)):
                self._note_unordered(index)
        skipped = emitted = 0
        try:
            while True:
                best: int | None = None
                for index, head in enumerate(heads):
                    if head is done:
                        continue
                    if best is None or _newer(order_id(head), order_id(heads[best])):
                        best = index
                if best is None:
                    return
                record = heads[best]
                following = next(readers[best], done)
                heads[best] = following
                if following is not done and not _older(order_id(following), order_id(record)):
                    self._note_unordered(best)
                if skipped < offset:
                    skipped += 1
                    continue
                if wanted is not None and emitted >= wanted:
                    return
                emitted += 1
                yield record
        finally:
            for reader in readers:
                reader.close()

    def _note_unordered(self, index: int) -> None:
        if index not in self.report.unordered:
            self.report.unordered.append(index)

    def _count_unread(self, streams: Sequence[Stream]) -> None:
        """Totals of streams the output did not need: from their first page when it came."""
        for stream in streams:
            future = stream.prefetched
            if future is not None and future.done() and future.exception() is None:
                self.report.totals.append(future.result().count)
            else:
                self.report.totals.append(None)
                self.report.unread = True

    # -- one stream -----------------------------------------------------------------------

    def _fetch(self, fetch: FetchPage, offset: int, limit: int) -> Page:
        self.report.requests += 1
        return fetch(offset, limit)

    def _page_done(self) -> None:
        if self.on_page is not None:
            self.on_page()

    def _fresh(self, page: Page, remaining: int | None) -> list[Any]:
        out: list[Any] = []
        for record in page.records:
            if remaining is not None and len(out) >= remaining:
                break
            ident = self.key(record)
            if ident is not None:
                if ident in self.seen:
                    continue
                self.seen.add(ident)
            out.append(record)
        return out

    def _read_stream(
        self, stream: Stream, offset: int, wanted: int | None
    ) -> Generator[Any, None, None]:
        remaining = wanted
        limit = PAGE_SIZE if remaining is None else min(PAGE_SIZE, remaining)
        if stream.prefetched is not None and offset == 0:
            self.report.requests += 1
            first = stream.prefetched.result()
            limit = stream.prefetched_limit
        else:
            first = self._fetch(stream.fetch, offset, limit)
        base = first.count
        self.report.totals.append(base)
        for record in self._fresh(first, remaining):
            if remaining is not None:
                remaining -= 1
            yield record
        self._page_done()
        got = len(first.records)
        if not self._more(first, offset, limit, remaining):
            return
        step = got if 0 < got < limit else limit  # a server that caps pages lower sets the step
        next_offset = offset + step
        prev_count = base
        stream.left = min(MAX_REQUESTS - self.report.requests, self._budget(base) - 1)
        stream.stale = 0
        if base is not None and self.on_plan is not None:
            end = base if remaining is None else min(base, next_offset + remaining)
            plan, self.on_plan = self.on_plan, None  # once: the first long stream
            plan(min(stream.left, math.ceil(max(0, end - next_offset) / step)))
        if base is not None and self.concurrency > 1 and self.pool is not None:
            end = base if remaining is None else min(base, next_offset + remaining)
            pages = self._concurrent(stream, next_offset, end, step)
            for page_offset, page_limit, page in pages:
                if page.count is not None and prev_count is not None and page.count < prev_count:
                    # answered before records its predecessor saw were added: read in order now
                    if page.count < base:
                        self.report.note_shrink(base, page.count)
                    pages.close()
                    next_offset = page_offset
                    break
                prev_count = page.count if page.count is not None else prev_count
                fresh = self._fresh(page, remaining)
                for record in fresh:
                    if remaining is not None:
                        remaining -= 1
                    yield record
                self._page_done()
                next_offset = page_offset + (len(page.records) or page_limit)
                if not self._more(page, page_offset, page_limit, remaining) or self._repeating(
                    stream, fresh
                ):
                    pages.close()
                    return
        yield from self._sequential(stream, next_offset, remaining, base)

    def _repeating(self, stream: Stream, fresh: list[Any]) -> bool:
        """True once STALE_PAGES pages in a row added nothing new (noted in the report)."""
        stream.stale = 0 if fresh else stream.stale + 1
        if stream.stale >= STALE_PAGES:
            self.report.stopped = "the server kept answering records already seen"
            return True
        return False

    def _concurrent(
        self, stream: Stream, start: int, end: int, step: int
    ) -> Generator[tuple[int, int, Page], None, None]:
        """Pages from ``start`` to ``end`` fetched with a sliding window of ``PAGES_AHEAD``
        pages per worker, yielded in order; planned lazily and never more than the stream's
        request budget. Pages planned but not yet sent when the reader stops are never sent,
        nor counted."""
        assert self.pool is not None
        plan = iter(range(start, min(end, INT32_MAX + 1), step))
        pending: list[tuple[int, int, Future[Page]]] = []
        try:
            while True:
                while len(pending) < PAGES_AHEAD * self.concurrency and stream.left > 0:
                    o = next(plan, None)
                    if o is None:
                        break
                    lim = min(step, end - o)
                    stream.left -= 1
                    self.report.requests += 1
                    pending.append((o, lim, self.pool.submit(stream.fetch, o, lim)))
                if not pending:
                    return
                o, lim, future = pending.pop(0)
                yield o, lim, future.result()
        finally:
            for _, _, future in pending:
                if future.cancel():  # still queued: never sent
                    stream.left += 1
                    self.report.requests -= 1

    def _sequential(
        self, stream: Stream, offset: int, remaining: int | None, base: int | None
    ) -> Iterator[Any]:
        while remaining is None or remaining > 0:
            if offset > INT32_MAX:
                return
            if stream.left <= 0:
                capped = self.report.requests >= MAX_REQUESTS
                self.report.stopped = (
                    CAPPED if capped else f"stopped after {self.report.requests:,} requests"
                )
                return
            limit = PAGE_SIZE if remaining is None else min(PAGE_SIZE, remaining)
            page = self._fetch(stream.fetch, offset, limit)
            stream.left -= 1
            if page.count is not None:
                grown = self._budget(page.count) - self.report.requests
                # the list grew: allow for it, within the cap
                stream.left = min(max(stream.left, grown), MAX_REQUESTS - self.report.requests)
                if base is not None and page.count < base:
                    self.report.note_shrink(base, page.count)
            fresh = self._fresh(page, remaining)
            for record in fresh:
                if remaining is not None:
                    remaining -= 1
                yield record
            self._page_done()
            if not self._more(page, offset, limit, remaining) or self._repeating(stream, fresh):
                return
            offset += len(page.records) or limit

    @staticmethod
    def _budget(count: int | None) -> int:
        if count is None:
            return UNKNOWN_COUNT_MAX_REQUESTS
        return 3 * math.ceil((count + 1) / PAGE_SIZE) + 10

    @staticmethod
    def _more(page: Page, offset: int, limit: int, remaining: int | None) -> bool:
        """Whether anything may follow this page."""
        if remaining is not None and remaining <= 0:
            return False
        got = len(page.records)
        if got == 0:
            return False
        if page.count is not None:
            return offset + got < page.count
        return got >= limit


def _digits(ident: str | None) -> bool:
    return ident is not None and ident.isascii() and ident.isdigit()


def _number(ident: str) -> tuple[int, str]:
    """A digit string as a sortable number, however long (int() refuses very long ones)."""
    significant = ident.lstrip("0")
    return len(significant), significant


def _newer(ident: str | None, than: str | None) -> bool:
    """Whether ``ident`` comes before ``than`` newest first: both digits and larger."""
    if ident is None or than is None or not (_digits(ident) and _digits(than)):
        return False
    return _number(ident) > _number(than)


def _older(ident: str | None, than: str | None) -> bool:
    """Whether ``ident`` may follow ``than`` in a newest-first stream: both digits and smaller."""
    if ident is None or than is None or not (_digits(ident) and _digits(than)):
        return False
    return _number(ident) < _number(than)
