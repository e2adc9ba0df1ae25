"""Which bulks a listing command selects: server-side status streams, then the client-side
filters, offset and limit. Shared by ``list``, ``watch`` and ``summary``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

import msgspec

from bulkctl.api.records import BulkProcess
from bulkctl.context import Context
from bulkctl.lists.filters import BulkFilter
from bulkctl.lists.paging import Pager, listing
from bulkctl.lists.progress import ReadProgress


class BulkSelection(Protocol):
    """What selects bulks; ``ListOptions`` is one."""

    @property
    def statuses(self) -> list[str]: ...
    @property
    def wanted(self) -> int | None: ...  # None: every matching record
    @property
    def offset(self) -> int: ...
    @property
    def concurrency(self) -> int | None: ...
    @property
    def filters(self) -> BulkFilter: ...


class Selection(msgspec.Struct):
    """A selection of bulks on its own, for commands that do not render a listing."""

    statuses: list[str]
    wanted: int | None = None
    offset: int = 0
    concurrency: int | None = None
    filters: BulkFilter = msgspec.field(default_factory=BulkFilter)


@contextmanager
def matching_bulks(
    ctx: Context, selection: BulkSelection, progress: ReadProgress | None = None
) -> Iterator[tuple[Iterator[BulkProcess], Pager]]:
    """The bulks ``selection`` selects, in the server's order, and the pager that read them;
    ``progress`` counts the pages read."""
    client = ctx.client()
    streams: list[str | None] = [*selection.statuses] or [None]
    fetches = [(lambda o, n, s=s: client.list_bulks(offset=o, limit=n, status=s)) for s in streams]
    filtering = selection.filters.active
    if progress is not None:
        fetches = [progress.counted(f, i) for i, f in enumerate(fetches)]  # type: ignore[misc]
        if not filtering:  # with filters every page is read
            progress.bound(selection.offset, selection.wanted)
    # with client-side filters the server's rows are not the user's rows: scan, then cut
    with listing(
        fetches,
        concurrency=ctx.concurrency(selection.concurrency),
        key=lambda r: r.key,
        offset=0 if filtering else selection.offset,
        wanted=None if filtering else selection.wanted,
        on_page=ctx.stdout.flush,
        merge_by=lambda r: r.bulk_id,
        on_plan=client.plan_requests,
    ) as (records, pager):
        if not filtering:
            yield records, pager
            return

        def selected() -> Iterator[BulkProcess]:
            skipped = emitted = 0
            for record in records:
                if not selection.filters.matches(record):
                    continue
                if skipped < selection.offset:
                    skipped += 1
                    continue
                if selection.wanted is not None and emitted >= selection.wanted:
                    records.close()
                    return
                emitted += 1
                yield record

        yield selected(), pager
