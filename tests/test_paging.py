"""Paging invariants under concurrency and a changing list, and termination whatever the server says."""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bulkctl.api.records import Page
from bulkctl.lists.paging import (
    MAX_REQUESTS,
    PAGES_AHEAD,
    STALE_PAGES,
    UNKNOWN_COUNT_MAX_REQUESTS,
    Pager,
)


@dataclass(frozen=True)
class Rec:
    bulk_id: str


class ChurningServer:
    """A newest-first list; ``insert_every`` answers, ``churn`` new records land on top."""

    def __init__(
        self, size: int, churn: int = 0, seed: int = 0, delay: float = 0.0, cap: int = 100
    ) -> None:
        self.items = [f"orig-{i}" for i in range(size)]
        self.churn = churn
        self.delay = delay
        self.cap = cap
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.new = 0
        self.calls: list[tuple[int, int]] = []

    def fetch(self, offset: int, limit: int) -> Page:
        assert 1 <= limit <= 100 and offset >= 0
        if self.delay:
            time.sleep(self.rng.uniform(0, self.delay))
        with self.lock:
            self.calls.append((offset, limit))
            for _ in range(self.churn):
                self.items.insert(0, f"new-{self.new}")
                self.new += 1
            window = self.items[offset : offset + min(limit, self.cap)]
            return Page([Rec(i) for i in window], len(self.items), len(window))


def read_all(
    server: ChurningServer, concurrency: int, wanted: int | None = None, offset: int = 0
) -> tuple[list[str], Pager]:
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        pager = Pager(concurrency=concurrency, key=lambda r: r.bulk_id, pool=pool)
        ids = [r.bulk_id for r in pager.read([server.fetch], offset=offset, wanted=wanted)]
    return ids, pager


@pytest.mark.parametrize("concurrency", [1, 2, 8])
def test_a_still_list_is_read_whole_in_order(concurrency: int) -> None:
    server = ChurningServer(1234)
    ids, pager = read_all(server, concurrency)
    assert ids == server.items
    assert pager.report.requests == 13


@pytest.mark.parametrize("concurrency", [1, 3, 8])
@pytest.mark.parametrize("seed", range(6))
def test_records_added_while_paging_cause_no_duplicates_and_no_gaps(
    concurrency: int, seed: int
) -> None:
    server = ChurningServer(2000, churn=7, seed=seed, delay=0.003)
    original = list(server.items)
    ids, _ = read_all(server, concurrency)
    assert len(ids) == len(set(ids)), "a bulkId came out twice"
    missing = set(original) - set(ids)
    assert not missing, f"{len(missing)} records that existed from the start were skipped"
    assert [i for i in ids if i.startswith("orig")] == original  # server order kept


def test_a_shrinking_list_is_reported() -> None:
    server = ChurningServer(500)
    real_fetch = server.fetch

    def fetch(offset: int, limit: int) -> Page:
        if offset >= 200:
            with server.lock:
                del server.items[:3]
        return real_fetch(offset, limit)

    with ThreadPoolExecutor(4) as pool:
        pager = Pager(concurrency=4, key=lambda r: r.bulk_id, pool=pool)
        list(pager.read([fetch], offset=0, wanted=None))
    assert pager.report.shrank_from == 500
    assert pager.report.shrank_to is not None and pager.report.shrank_to < 500


def test_a_server_with_smaller_pages_is_still_read_whole() -> None:
    server = ChurningServer(777, cap=50)
    ids, _ = read_all(server, 8)
    assert ids == server.items


def test_limit_and_offset_across_several_streams() -> None:
    a, b = ChurningServer(30), ChurningServer(250)
    b.items = [f"b-{i}" for i in range(250)]
    everything = a.items + b.items
    with ThreadPoolExecutor(8) as pool:
        for offset, wanted in [(0, 150), (10, 40), (29, 5), (31, 100), (0, None), (300, 10)]:
            pager = Pager(concurrency=8, key=lambda r: r.bulk_id, pool=pool)
            ids = [r.bulk_id for r in pager.read([a.fetch, b.fetch], offset=offset, wanted=wanted)]
            end = None if wanted is None else offset + wanted
            assert ids == everything[offset:end], (offset, wanted)


def test_never_asks_for_more_than_wanted_in_the_last_page() -> None:
    server = ChurningServer(1000)
    ids, _ = read_all(server, 8, wanted=150)
    assert len(ids) == 150
    assert server.calls[-1][1] == 50 or sorted(c[1] for c in server.calls) == [50, 100]


# -- hostile servers ----------------------------------------------------------------------------


def test_the_same_page_over_and_over_stops() -> None:
    def fetch(offset: int, limit: int) -> Page:
        return Page([Rec(f"x{i}") for i in range(limit)], 10**6, limit)

    pager = Pager(concurrency=1, key=lambda r: r.bulk_id)
    ids = [r.bulk_id for r in pager.read([fetch], offset=0, wanted=None)]
    assert len(ids) == 100
    assert pager.report.stopped is not None
    assert pager.report.requests <= 5


def test_endless_new_records_with_no_count_are_bounded() -> None:
    counter = iter(range(10**9))

    def fetch(offset: int, limit: int) -> Page:
        return Page([Rec(str(next(counter))) for _ in range(limit)], None, limit)

    pager = Pager(concurrency=1, key=lambda r: r.bulk_id)
    for _ in pager.read([fetch], offset=0, wanted=None):
        pass
    assert pager.report.requests <= UNKNOWN_COUNT_MAX_REQUESTS + 1
    assert pager.report.stopped


def test_a_count_that_lies_high_ends_at_the_first_empty_page() -> None:
    def fetch(offset: int, limit: int) -> Page:
        rows = [Rec(str(i)) for i in range(offset, min(offset + limit, 250))]
        return Page(rows, 2_000_000_000, len(rows))

    with ThreadPoolExecutor(8) as pool:
        pager = Pager(concurrency=8, key=lambda r: r.bulk_id, pool=pool)
        started = time.monotonic()
        ids = [r.bulk_id for r in pager.read([fetch], offset=0, wanted=None)]
    assert ids == [str(i) for i in range(250)]
    assert time.monotonic() - started < 30


@given(
    size=st.integers(0, 600),
    counts=st.lists(st.one_of(st.none(), st.integers(-5, 10**7)), min_size=1, max_size=6),
    page_cap=st.integers(1, 100),
    repeat=st.booleans(),
    concurrency=st.sampled_from([1, 4]),
    wanted=st.one_of(st.none(), st.integers(1, 400)),
    honest=st.booleans(),
)
@settings(max_examples=150, deadline=None)
def test_any_server_behaviour_ends_without_duplicates(
    size: int,
    counts: list[int | None],
    page_cap: int,
    repeat: bool,
    concurrency: int,
    wanted: int | None,
    honest: bool,
) -> None:
    if honest:  # half the cases: a server that tells the truth, so the output is known
        counts, page_cap, repeat = [size], 100, False
    calls = iter(range(10**9))

    def fetch(offset: int, limit: int) -> Page:
        n = next(calls)
        start = 0 if repeat else offset
        rows = [Rec(str(i)) for i in range(start, min(start + min(limit, page_cap), size))]
        count = counts[n % len(counts)]
        return Page(rows, None if count is None or count < 0 else count, len(rows))

    with ThreadPoolExecutor(4) as pool:
        pager = Pager(concurrency=concurrency, key=lambda r: r.bulk_id, pool=pool)
        ids = [r.bulk_id for r in pager.read([fetch], offset=0, wanted=wanted)]
    assert len(ids) == len(set(ids))
    assert wanted is None or len(ids) <= wanted
    assert pager.report.requests <= UNKNOWN_COUNT_MAX_REQUESTS + 200
    assert set(ids) <= {str(i) for i in range(size)}  # nothing made up
    if honest:
        # an honest server: exactly its records, in its order, up to the limit
        assert ids == [str(i) for i in range(size)][:wanted]


@pytest.mark.parametrize("concurrency", [1, 8])
def test_a_small_page_repeated_under_a_huge_count_stops_quickly(concurrency: int) -> None:
    def fetch(offset: int, limit: int) -> Page:
        return Page([Rec(f"x{i}") for i in range(8)], 2_000_000_000, 8)

    with ThreadPoolExecutor(8) as pool:
        pager = Pager(concurrency=concurrency, key=lambda r: r.bulk_id, pool=pool)
        ids = [r.bulk_id for r in pager.read([fetch], offset=0, wanted=None)]
    assert len(ids) == 8
    assert pager.report.stopped == "the server kept answering records already seen"
    # an early stop costs at most the pages planned ahead of the reader
    assert pager.report.requests <= 1 + STALE_PAGES + PAGES_AHEAD * 8


def test_a_slow_oldest_page_holds_the_output_but_not_the_workers() -> None:
    """The page the reader waits for is the slowest: the other workers go on to the pages
    after it (up to PAGES_AHEAD per worker), and never more than ``concurrency`` at once."""
    concurrency = 2
    lock = threading.Condition()
    started: list[int] = []
    running = [0, 0]  # now, most at once
    head_saw = []

    def fetch(offset: int, limit: int) -> Page:
        with lock:
            started.append(offset)
            running[0] += 1
            running[1] = max(running[1], running[0])
            lock.notify_all()
            if offset == 100:  # the oldest page of the concurrent part: the slowest
                ahead = PAGES_AHEAD * concurrency - 1
                lock.wait_for(lambda: len(started) - 2 >= ahead, timeout=10)
                head_saw.append(len(started) - 2)
            running[0] -= 1
        rows = [Rec(str(i)) for i in range(offset, min(offset + limit, 1000))]
        return Page(rows, 1000, len(rows))

    with ThreadPoolExecutor(concurrency) as pool:
        pager = Pager(concurrency=concurrency, key=lambda r: r.bulk_id, pool=pool)
        ids = [r.bulk_id for r in pager.read([fetch], offset=0, wanted=None)]
    assert ids == [str(i) for i in range(1000)]
    # while the oldest page was answered, the other worker fetched every page planned after it
    assert head_saw == [PAGES_AHEAD * concurrency - 1]
    assert running[1] == concurrency
    assert pager.report.requests == 10 == len(started)


def test_pages_planned_past_an_early_stop_are_never_sent_nor_counted() -> None:
    sent: list[int] = []
    lock = threading.Lock()

    def fetch(offset: int, limit: int) -> Page:
        with lock:
            sent.append(offset)
        if offset >= 300:  # the list ends early: a short page under a count of 10,000
            time.sleep(0.05)
            return Page([], 10_000, 0)
        rows = [Rec(str(i)) for i in range(offset, offset + limit)]
        return Page(rows, 10_000, len(rows))

    # one worker for a window of four pages: those it has not reached wait in its queue
    with ThreadPoolExecutor(1) as pool:
        pager = Pager(concurrency=2, key=lambda r: r.bulk_id, pool=pool)
        ids = [r.bulk_id for r in pager.read([fetch], offset=0, wanted=None)]
    assert ids == [str(i) for i in range(300)]
    assert pager.report.requests == len(sent)


def test_new_records_for_ever_under_a_huge_count_are_capped() -> None:
    counter = iter(range(10**9))

    def fetch(offset: int, limit: int) -> Page:
        return Page([Rec(str(next(counter)))], 2_000_000_000, 1)

    pager = Pager(concurrency=1, key=lambda r: r.bulk_id)
    for _ in pager.read([fetch], offset=0, wanted=None):
        pass
    assert pager.report.requests == MAX_REQUESTS == 10_000
    assert pager.report.stopped is not None and "10,000 requests" in pager.report.stopped


def test_the_request_cap_holds_for_several_streams_together() -> None:
    counter = iter(range(10**9))

    def fetch(offset: int, limit: int) -> Page:
        return Page([Rec(str(next(counter)))], 2_000_000_000, 1)

    with ThreadPoolExecutor(8) as pool:
        pager = Pager(concurrency=8, key=lambda r: r.bulk_id, pool=pool)
        for _ in pager.read([fetch, fetch, fetch], offset=0, wanted=None):
            pass
    assert pager.report.requests <= MAX_REQUESTS + 8
    assert pager.report.stopped is not None and "daily quota" in pager.report.stopped


# -- several streams merged newest first --------------------------------------------------


class StaticServer:
    """One status's listing: fixed ids in the order given, pages capped at 100."""

    def __init__(self, ids: list[str]) -> None:
        self.ids = ids
        self.calls: list[tuple[int, int]] = []
        self.lock = threading.Lock()

    def fetch(self, offset: int, limit: int) -> Page:
        with self.lock:
            self.calls.append((offset, limit))
        window = self.ids[offset : offset + min(limit, 100)]
        return Page([Rec(i) for i in window], len(self.ids), len(window))


def read_merged(
    servers: list[StaticServer], concurrency: int = 4, wanted: int | None = None, offset: int = 0
) -> tuple[list[str], Pager]:
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        pager = Pager(
            concurrency=concurrency, key=lambda r: r.bulk_id, pool=pool if concurrency > 1 else None
        )
        records = pager.read_merged(
            [s.fetch for s in servers], order_id=lambda r: r.bulk_id, offset=offset, wanted=wanted
        )
        ids = [r.bulk_id for r in records]
    return ids, pager


def newest_first(ids: list[int]) -> list[str]:
    return [str(i) for i in sorted(ids, reverse=True)]


def test_several_streams_become_one_list_newest_first_compared_as_numbers() -> None:
    running = StaticServer(newest_first([1100, 980, 95, 7]))
    paused = StaticServer(newest_first([1000, 99, 8]))
    ids, pager = read_merged([running, paused])
    assert ids == newest_first([1100, 1000, 980, 99, 95, 8, 7])
    assert pager.report.unordered == []
    assert pager.report.more_note(len(ids), 0) is None


def test_the_limit_applies_to_the_merged_list_and_costs_one_request_a_stream() -> None:
    running = StaticServer(newest_first(list(range(1, 300, 2))))
    paused = StaticServer(newest_first(list(range(2, 300, 2))))
    ids, pager = read_merged([running, paused], wanted=6)
    assert ids == newest_first(list(range(294, 300)))
    assert running.calls == [(0, 6)] and paused.calls == [(0, 6)]
    assert pager.report.requests == 2
    assert pager.report.more_note(6, 0) == "6 of 299 shown; use --limit N or --all for more"


def test_an_offset_skips_the_newest_of_the_merged_list() -> None:
    ids, _ = read_merged(
        [StaticServer(newest_first([9, 5, 1])), StaticServer(newest_first([8, 6]))],
        offset=2,
        wanted=2,
    )
    assert ids == ["6", "5"]


def test_a_stream_whose_ids_are_not_digits_keeps_its_order_and_is_reported() -> None:
    named = StaticServer(["zeta", "alpha", "9000"])
    digits = StaticServer(newest_first([50, 40]))
    ids, pager = read_merged([digits, named])
    assert [i for i in ids if i in named.ids] == named.ids, "its own order kept"
    assert sorted(ids) == sorted(named.ids + digits.ids)
    assert pager.report.unordered == [1]
    assert pager.report.order_note(["RUNNING", "PAUSED"]) is not None
    assert "PAUSED" in (pager.report.order_note(["RUNNING", "PAUSED"]) or "")


def test_a_stream_not_descending_keeps_its_order_and_is_reported() -> None:
    rising = StaticServer(["1", "2", "3"])
    ids, pager = read_merged([StaticServer(["10", "5"]), rising])
    assert [i for i in ids if i in rising.ids] == ["1", "2", "3"]
    assert pager.report.unordered == [1]


def test_a_bulk_in_two_streams_is_written_once() -> None:
    ids, _ = read_merged([StaticServer(["30", "20", "10"]), StaticServer(["25", "20", "5"])])
    assert ids == ["30", "25", "20", "10", "5"]


@given(
    st.sets(st.integers(0, 10**22), max_size=400),
    st.integers(1, 4),
    st.sampled_from([1, 4]),
    st.one_of(st.none(), st.integers(1, 450)),
    st.integers(0, 1000),
)
@settings(max_examples=60, deadline=None)
def test_merging_any_newest_first_streams_gives_the_newest_first_union(
    ids: set[int], streams: int, concurrency: int, wanted: int | None, seed: int
) -> None:
    rng = random.Random(seed)
    parts: list[list[int]] = [[] for _ in range(streams)]
    for i in ids:
        parts[rng.randrange(streams)].append(i)
    servers = [StaticServer(newest_first(p)) for p in parts]
    got, pager = read_merged(servers, concurrency=concurrency, wanted=wanted)
    expected = newest_first(list(ids))
    assert got == (expected if wanted is None else expected[:wanted])
    assert pager.report.unordered == []
    if wanted is not None:  # never more pages than the merged list can need
        for server in servers:
            assert sum(limit for _, limit in server.calls) <= max(wanted, 1) + 100


@pytest.mark.parametrize("concurrency", [2, 4, 8])
@pytest.mark.parametrize("dip_at", [100, 200, 400], ids=["second page", "middle page", "last page"])
def test_a_count_one_lower_on_one_page_read_in_parallel_is_reported(
    concurrency: int, dip_at: int
) -> None:
    server = ChurningServer(500)
    dipped: list[int] = []

    def fetch(offset: int, limit: int) -> Page:
        page = server.fetch(offset, limit)
        if offset == dip_at and not dipped:  # one answer, once, says one record fewer
            dipped.append(offset)
            return Page(page.records, page.count - 1 if page.count else None, page.response_count)
        return page

    with ThreadPoolExecutor(concurrency) as pool:
        pager = Pager(concurrency=concurrency, key=lambda r: r.bulk_id, pool=pool)
        ids = [r.bulk_id for r in pager.read([fetch], offset=0, wanted=None)]
    assert dipped == [dip_at]
    assert (pager.report.shrank_from, pager.report.shrank_to) == (500, 499)
    assert ids == server.items  # the pages after the dip are read again, in order, once
