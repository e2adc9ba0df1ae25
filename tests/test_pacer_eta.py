"""``Pacer.time_to_start``: how long the quota holds back the requests a read has left, from
the windows of ``rate_limit``, the starts already recorded (this process's and, through the
shared record, others'), and a wait the API named; the ETA of a long read builds on it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bulkctl.pacing.pacer import Pacer, Window, parse_limit_header, parse_rate_limit, state_file
from tests.conftest import LinkedClock, ManualClock

STEP = 0.01  # each held start lies a millisecond past the one it waits for


def test_requests_within_the_window_start_now_and_each_further_batch_a_window_later() -> None:
    clock = ManualClock()
    pacer = Pacer(parse_rate_limit("10/10s"), clock=LinkedClock(clock))
    assert pacer.time_to_start(0) == 0
    assert pacer.time_to_start(10) == 0
    assert pacer.time_to_start(11) == pytest.approx(10, abs=STEP)
    assert pacer.time_to_start(30) == pytest.approx(20, abs=STEP)
    assert pacer.time_to_start(100) == pytest.approx(90, abs=STEP)


def test_starts_already_made_count_and_leave_their_window_as_time_goes_on() -> None:
    clock = ManualClock()
    pacer = Pacer(parse_rate_limit("10/10s"), clock=LinkedClock(clock))
    for _ in range(10):
        pacer.acquire(0)
    assert pacer.time_to_start(1) == pytest.approx(10, abs=STEP)
    clock.advance(4)
    assert pacer.time_to_start(1) == pytest.approx(6, abs=STEP)
    assert pacer.time_to_start(11) == pytest.approx(16, abs=STEP)
    clock.advance(6.5)
    assert pacer.time_to_start(10) == 0


def test_every_window_holds_its_share() -> None:
    # 5 in any 10 s and 10 in any 60 s: 5 now, 5 at 10 s, then the minute is full until
    # 60 s (5 more), and its second five leave at 70 s
    pacer = Pacer(parse_rate_limit("5/10s,10/60s"), clock=LinkedClock(ManualClock()))
    assert pacer.time_to_start(10) == pytest.approx(10, abs=STEP)
    assert pacer.time_to_start(15) == pytest.approx(60, abs=STEP)
    assert pacer.time_to_start(20) == pytest.approx(70, abs=STEP)


def test_another_processs_requests_in_the_shared_record_count(tmp_path: Path) -> None:
    clock = ManualClock()
    path = state_file(tmp_path / "state", "https://api.example.com/multi", "key")
    other = Pacer(parse_rate_limit("4/10s"), clock=LinkedClock(clock), path=path)
    mine = Pacer(parse_rate_limit("4/10s"), clock=LinkedClock(clock), path=path)
    assert mine.time_to_start(9) == pytest.approx(20, abs=STEP)
    for _ in range(3):
        other.acquire(0)
    clock.advance(2)
    # a sliding window: one start now (at 2 s), three at 10 s, one at 12 s, three at 20 s,
    # the last at 22 s
    assert mine.time_to_start(9) == pytest.approx(20, abs=STEP)
    other.acquire(0)  # the window is full: 10, 10, 10, 12, 20, 20, 20, 22, then 30 s
    assert mine.time_to_start(9) == pytest.approx(28, abs=STEP)
    other.close()
    mine.close()


def test_no_rate_limit_holds_nothing_back() -> None:
    pacer = Pacer(parse_rate_limit("0"), clock=LinkedClock(ManualClock()))
    for _ in range(50):
        pacer.acquire(0)
    assert pacer.time_to_start(100_000) == 0


def test_a_wait_the_api_named_comes_first() -> None:
    clock = ManualClock()
    pacer = Pacer(parse_rate_limit("0"), clock=LinkedClock(clock))
    started = pacer.acquire(0)
    pacer.quota_answer(started, 30, ())
    assert pacer.time_to_start(5) == pytest.approx(30)
    # a window the server named is paced too, after its wait
    limited = Pacer((Window(10, 100),), clock=LinkedClock(clock))
    started = limited.acquire(0)
    limited.quota_answer(started, 30, parse_limit_header("100;w=10"))
    assert limited.time_to_start(101) == pytest.approx(40, abs=STEP)


def test_another_processs_requests_in_a_shared_redis_store_count(tmp_path: Path) -> None:
    from bulkctl.pacing.redis_store import RedisStore, store_keys
    from tests.redis_server import NO_SERVER, redis_server

    if NO_SERVER is not None:
        pytest.skip(NO_SERVER)
    base_url, key = "https://api.example.com/multi", "key"
    clock = ManualClock()
    with redis_server(tmp_path / "redis") as server:

        def pacer(name: str) -> Pacer:
            fallback = state_file(tmp_path / name, base_url, key)
            store = RedisStore(server.url, store_keys(base_url, key), fallback, warn=print)
            return Pacer(parse_rate_limit("4/10s"), clock=LinkedClock(clock), store=store)

        other, mine = pacer("other"), pacer("mine")  # no state file in common
        for _ in range(4):
            other.acquire(0)
        clock.advance(2)
        assert mine.time_to_start(9) == pytest.approx(28, abs=STEP)
        other.close()
        mine.close()
