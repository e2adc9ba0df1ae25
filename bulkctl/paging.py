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

Pages are fetched concurrently (a sliding window of ``concurrency`` requests) and
yielded as soon as they and every page before them have arrived, so output streams.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bulkctl.api.records import INT32_MAX, Page

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

PAGE_SIZE = 100
STALE_PAGES = 3  # consecutive pages adding nothing new: the server repeats itself
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
) -> Iterator[tuple[Generator[Any, None, None], Pager]]:
    """The records of ``fetches`` in order (see ``Pager.read``), and the pager for its report.

    ``on_page`` runs each time a page's records have been consumed, before the next page is
    waited for: the place to flush output, so rows appear as their page arrives.
    """
    with page_pool(concurrency) as pool:
        pager = Pager(concurrency=concurrency, key=key, pool=pool, on_page=on_page)
        yield pager.read(fetches, offset=offset, wanted=wanted), pager


@dataclass
class PagingReport:
    """What happened while paging, for warnings and ``--strict``."""

    requests: int = 0
    rereads: int = 0
    shrank_from: int | None = None
    shrank_to: int | None = None
    stopped: str | None = None  # why paging stopped early, when it did
    unread: bool = False  # a stream the output did not need was never asked for
    totals: list[int | None] = field(default_factory=list)

    def more_note(self, written: int, offset: int) -> str | None:
        """'20 of 1,234 shown ...' when the server holds more than was written."""
        if self.unread:
            return f"{written:,} shown; more in the other statuses; use --limit N or --all for more"
        if not self.totals or None in self.totals:
            return None
        total = sum(t for t in self.totals if t is not None)
        if written + offset >= total:
            return None
        return f"{written:,} of {total:,} shown; use --limit N or --all for more"

    def note_shrink(self, before: int, after: int) -> None:
        if self.shrank_from is None:
            self.shrank_from = before
        self.shrank_to = after if self.shrank_to is None else min(self.shrank_to, after)


@dataclass
class Stream:
    """One server-side listing (one status filter) to read from ``offset``."""

    fetch: FetchPage
    prefetched: Future[Page] | None = None
    prefetched_limit: int = 0


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
        self._left = 0  # requests the stream being read may still send
        self._stale = 0  # pages in a row that added nothing new

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

    def _read_stream(self, stream: Stream, offset: int, wanted: int | None) -> Iterator[Any]:
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
        self._left = min(MAX_REQUESTS - self.report.requests, self._budget(base) - 1)
        self._stale = 0
        if base is not None and self.concurrency > 1 and self.pool is not None:
            end = base if remaining is None else min(base, next_offset + remaining)
            pages = self._concurrent(stream.fetch, next_offset, end, step)
            for page_offset, page_limit, page in pages:
                if page.count is not None and prev_count is not None and page.count < prev_count:
                    # answered before records its predecessor saw were added: read in order now
                    self.report.rereads += 1
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
                    fresh
                ):
                    pages.close()
                    return
        yield from self._sequential(stream.fetch, next_offset, remaining, base)

    def _repeating(self, fresh: list[Any]) -> bool:
        """True once STALE_PAGES pages in a row added nothing new (noted in the report)."""
        self._stale = 0 if fresh else self._stale + 1
        if self._stale >= STALE_PAGES:
            self.report.stopped = "the server kept answering records already seen"
            return True
        return False

    def _concurrent(
        self, fetch: FetchPage, start: int, end: int, step: int
    ) -> Generator[tuple[int, int, Page], None, None]:
        """Pages from ``start`` to ``end`` fetched with a sliding window, yielded in order;
        planned lazily and never more than the stream's request budget."""
        assert self.pool is not None
        plan = iter(range(start, min(end, INT32_MAX + 1), step))
        pending: list[tuple[int, int, Future[Page]]] = []
        try:
            while True:
                while len(pending) < self.concurrency and self._left > 0:
                    o = next(plan, None)
                    if o is None:
                        break
                    lim = min(step, end - o)
                    self._left -= 1
                    self.report.requests += 1
                    pending.append((o, lim, self.pool.submit(fetch, o, lim)))
                if not pending:
                    return
                o, lim, future = pending.pop(0)
                yield o, lim, future.result()
        finally:
            for _, _, future in pending:
                future.cancel()

    def _sequential(
        self, fetch: FetchPage, offset: int, remaining: int | None, base: int | None
    ) -> Iterator[Any]:
        while remaining is None or remaining > 0:
            if offset > INT32_MAX:
                return
            if self._left <= 0:
                capped = self.report.requests >= MAX_REQUESTS
                self.report.stopped = (
                    CAPPED if capped else f"stopped after {self.report.requests:,} requests"
                )
                return
            limit = PAGE_SIZE if remaining is None else min(PAGE_SIZE, remaining)
            page = self._fetch(fetch, offset, limit)
            self._left -= 1
            if page.count is not None:
                grown = self._budget(page.count) - self.report.requests
                # the list grew: allow for it, within the cap
                self._left = min(max(self._left, grown), MAX_REQUESTS - self.report.requests)
                if base is not None and page.count < base:
                    self.report.note_shrink(base, page.count)
            fresh = self._fresh(page, remaining)
            for record in fresh:
                if remaining is not None:
                    remaining -= 1
                yield record
            self._page_done()
            if not self._more(page, offset, limit, remaining) or self._repeating(fresh):
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
