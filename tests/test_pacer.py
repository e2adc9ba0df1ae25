"""The pacer with a fake clock: the sliding-window promise, the shared file, quota answers."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest

from bulkctl.config import validate_value
from bulkctl.emulator.server import running
from bulkctl.errors import UsageError
from bulkctl.pacing.learner import lattice_window
from bulkctl.pacing.pacer import (
    MAGIC,
    Pacer,
    QuotaWaitTooLong,
    Window,
    decode,
    encode,
    parse_limit_header,
    parse_rate_limit,
    state_file,
)
from tests.conftest import Served, make_emulator, run_bulkctl
from tests.quota_scenario import SerialClock, list_against_fixed_windows, runners_sharing_a_quota


class SharedFakeClock:
    """One fake time for every thread: sleeping moves it forward, never back."""

    def __init__(self, start: float = 1_790_000_000.0) -> None:
        self.t = start
        self.lock = threading.Lock()
        self.slept: list[float] = []

    def now(self) -> float:
        with self.lock:
            return self.t

    def monotonic(self) -> float:
        return self.now()

    def sleep(self, seconds: float) -> None:
        with self.lock:
            start = self.t
            self.slept.append(seconds)
        time.sleep(0.0005)  # let other threads run at this fake instant
        with self.lock:
            self.t = max(self.t, start + max(0.0, seconds))


def assert_within(starts: list[float], window: Window) -> None:
    """No ``limit + 1`` starts lie within any ``seconds`` (a half-open sliding window)."""
    starts = sorted(starts)
    for first, last in zip(starts, starts[window.limit :], strict=False):
        assert last - first >= window.seconds, (first, last, window)


@pytest.mark.parametrize(
    ("text", "windows"),
    [
        ("100/60s,1000/3600s", (Window(60, 100), Window(3600, 1000))),
        ("100", (Window(60, 100),)),
        ("0", ()),
        ("10/1m, 5/10s", (Window(10, 5), Window(60, 10))),
        ("1000/1h,100/60s,50/1m", (Window(60, 50), Window(3600, 1000))),
        ("10000/1d", (Window(86400, 10000),)),
    ],
)
def test_rate_limits_are_read_like_the_setting_says(text: str, windows: tuple[Window, ...]) -> None:
    assert parse_rate_limit(text) == windows
    validate_value("rate_limit", text)  # the config's grammar accepts what the pacer reads


@pytest.mark.parametrize("bad", ["", "abc", "100/", "0/60s", "-5", "100/60x", "100/0s", "1/2d"])
def test_bad_rate_limits_are_usage_errors(bad: str) -> None:
    with pytest.raises(UsageError):
        parse_rate_limit(bad)


@pytest.mark.parametrize("bad", ["", "abc", "100/", "0/60s", "-5", "100/60x"])
def test_the_config_rejects_bad_rate_limits_before_any_request(bad: str) -> None:
    with pytest.raises(UsageError):
        validate_value("rate_limit", bad)


def test_the_limit_header_names_the_windows_in_force() -> None:
    assert parse_limit_header("100;w=60, 1000;w=3600") == (Window(60, 100), Window(3600, 1000))
    # the spec's shape: the exceeded limit first, without a window
    assert parse_limit_header("20, 10;w=60, 20;w=3600, 200;w=86400") == (
        Window(60, 10),
        Window(3600, 20),
        Window(86400, 200),
    )
    assert parse_limit_header("garbage;w=x, ;w=5, 0;w=60") == ()
    assert parse_limit_header(None) == ()


def test_a_burst_up_to_the_limit_starts_at_once_and_the_next_waits_a_window() -> None:
    clock = SharedFakeClock()
    pacer = Pacer((Window(60, 100),), clock=clock)
    t0 = clock.now()
    for _ in range(100):
        pacer.acquire(600)
    assert clock.slept == []
    assert pacer.usage(60).started == 100 and pacer.usage(60).limit == 100
    pacer.acquire(600)
    assert clock.now() - t0 >= 60
    assert pacer.usage(60).started == 1


def test_the_sliding_window_holds_under_concurrency() -> None:
    clock = SharedFakeClock()
    windows = (Window(10, 7), Window(35, 20))
    pacer = Pacer(windows, clock=clock)
    starts: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(12):
            started = pacer.acquire(10_000)
            with lock:
                starts.append(started)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(starts) == 96
    for window in windows:
        assert_within(starts, window)


def test_two_processes_share_one_record_through_the_file(tmp_path: Path) -> None:
    clock = SharedFakeClock()
    path = state_file(tmp_path / "state", "https://api.example.com/multi", "key")
    first = Pacer((Window(60, 10),), clock=clock, path=path)
    second = Pacer((Window(60, 10),), clock=clock, path=path)
    starts = []
    for i in range(30):
        starts.append((first if i % 3 else second).acquire(600))
    assert_within(starts, Window(60, 10))
    assert len(clock.slept) >= 2
    assert second.usage(60).started == first.usage(60).started
    assert path.stat().st_mode & 0o777 == 0o600
    assert b"key" not in path.name.encode()


def test_the_file_of_an_hour_of_requests_stays_small(tmp_path: Path) -> None:
    clock = SharedFakeClock()
    path = tmp_path / "pacer.bin"
    pacer = Pacer((Window(3600, 1000),), clock=clock, path=path)
    for _ in range(1000):
        pacer.acquire(0)
        clock.t += 0.5
    assert path.stat().st_size < 5_000  # 4 bytes a start
    clock.t += 3600
    pacer.acquire(0)
    assert path.stat().st_size < 100  # older than the largest window: pruned


def test_a_quota_answer_pauses_every_process(tmp_path: Path) -> None:
    clock = SharedFakeClock()
    path = tmp_path / "pacer.bin"
    first = Pacer((), clock=clock, path=path)
    second = Pacer((Window(60, 100),), clock=clock, path=path)
    started = first.acquire(600)
    first.quota_answer(started, 30, parse_limit_header("100;w=60"))
    with pytest.raises(QuotaWaitTooLong, match="quota is used up"):
        second.acquire(10)
    second.acquire(600)
    assert clock.slept == [30]
    assert second.usage(60).limit == 100  # the learned window came with the file


def test_one_quota_answer_pauses_every_thread() -> None:
    clock = SharedFakeClock()
    pacer = Pacer((Window(60, 100),), clock=clock)
    first = pacer.acquire(600)
    pacer.quota_answer(first, 30, ())
    starts: list[float] = []

    def request() -> None:
        started = pacer.acquire(600)
        starts.append(started)
        pacer.success(started)  # answered: the wait is over, the others may follow

    threads = [threading.Thread(target=request) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(starts) == 8 and min(starts) >= first + 30


def test_while_a_quota_wait_lasts_one_probe_at_a_time_is_out() -> None:
    clock = SharedFakeClock()
    pacer = Pacer((), clock=clock)
    burst = [pacer.acquire(600) for _ in range(4)]
    for started in burst:
        pacer.quota_answer(started, None, ())
    probe = pacer.acquire(600)
    with pytest.raises(QuotaWaitTooLong, match="probe"):
        pacer.acquire(0.5)  # a second request waits for the probe's answer
    pacer.quota_answer(probe, None, ())
    again = pacer.acquire(600)
    assert again >= probe + 2  # the next probe, after a longer delay
    pacer.success(again)
    assert pacer.acquire(0) == clock.now()  # the wait is over: requests go at once


def test_answers_from_one_burst_do_not_grow_the_probe_delay() -> None:
    clock = SharedFakeClock()
    pacer = Pacer((), clock=clock)
    in_flight = [pacer.acquire(600) for _ in range(8)]
    for started in in_flight:  # eight answers to requests sent before the first came back
        pacer.quota_answer(started, None, ())
    probe = pacer.acquire(600)
    assert clock.slept == [1]
    pacer.quota_answer(probe, None, ())  # the probe too: now the delay doubles
    pacer.acquire(600)
    assert clock.slept == [1, 2]


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not ours at all",
        MAGIC + b"\x00\x01",
        MAGIC + b"\xff" * 200,
        b"\x00" * 3000,
        MAGIC + b"x" * (2 << 20),
    ],
    ids=["empty", "foreign", "truncated", "garbled", "zeros", "huge"],
)
def test_a_corrupt_or_foreign_state_file_is_replaced(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "pacer.bin"
    path.write_bytes(content)
    clock = SharedFakeClock()
    pacer = Pacer((Window(60, 2),), clock=clock, path=path)
    pacer.acquire(0)
    pacer.acquire(0)
    with pytest.raises(QuotaWaitTooLong):
        pacer.acquire(0)
    record = decode(path.read_bytes())
    assert record is not None and len(record.starts) == 2


def test_starts_in_the_future_after_a_clock_change_do_not_block_for_ever(tmp_path: Path) -> None:
    clock = SharedFakeClock()
    path = tmp_path / "pacer.bin"
    pacer = Pacer((Window(60, 1),), clock=clock, path=path)
    pacer.acquire(0)
    clock.t -= 10_000  # the wall clock was set back
    pacer.acquire(61)
    assert clock.slept and clock.slept[0] <= 60.01


def test_an_unusable_state_folder_paces_in_memory(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    clock = SharedFakeClock()
    pacer = Pacer((Window(60, 1),), clock=clock, path=blocker / "sub" / "pacer.bin")
    pacer.acquire(0)
    with pytest.raises(QuotaWaitTooLong):
        pacer.acquire(0)


def test_the_encoding_round_trips_to_the_millisecond() -> None:
    clock = SharedFakeClock()
    pacer = Pacer((Window(60, 5), Window(3600, 1000)), clock=clock)
    for _ in range(5):
        pacer.acquire(0)
        clock.t += 0.1234
    record = pacer._memory
    again = decode(encode(record))
    assert again is not None
    assert all(0 <= b - a < 0.001 + 1e-6 for a, b in zip(record.starts, again.starts, strict=True))


def test_a_window_is_learned_from_quota_answers_without_headers() -> None:
    """A server with fixed windows of 10 requests per 10 s that names none of it: after two
    waits the pacer holds a window that draws no more refusals."""
    clock = SharedFakeClock(start=1003.0)  # the command starts in the middle of a window
    pacer = Pacer((), clock=clock)
    used: dict[int, int] = {}
    refused: dict[int, int] = {}
    answered = 0
    while answered < 200:
        started = pacer.acquire(10_000)
        window = int(started // 10)
        if used.get(window, 0) < 10:
            used[window] = used.get(window, 0) + 1
            answered += 1
            pacer.success(started)
        else:
            refused[window] = refused.get(window, 0) + 1
            pacer.quota_answer(started, None, ())
    assert pacer._learn.limit == 10  # the run that filled a window
    assert pacer._learn.w_lo <= 10 <= pacer._learn.w_hi  # the window, bounded both sides
    first, second, *later = sorted(refused)
    assert refused[first] <= 1 + 4  # the one request out, and its probes
    assert refused[second] <= 3  # the limit learned, the window's length not yet
    assert all(refused[w] <= 1 for w in later), refused  # held back after 10; one probe
    assert sum(refused.values()) <= 12


PHASES = [i / 4 for i in range(40)]  # every quarter second of a 10 s window


@pytest.mark.parametrize("latency", [0.002, 0.03], ids=["2ms", "30ms"])
def test_at_any_phase_a_window_is_learned_within_the_quota_targets(latency: float) -> None:
    """Issue 10's targets wherever in a window the command starts (the end of a window was
    where an early pacer drew 4 refusals in the second window, or learned 150 for 100 from
    a first run that spanned a boundary and fell behind by many windows): at most 1 + 4 in
    the first window that refuses (one request out), at most 3 in each later one."""
    for phase in PHASES:
        counts, late = list_against_fixed_windows(phase, requests=250, latency=latency)
        first = next(i for i, n in enumerate(counts) if n)
        assert counts[first] <= 1 + 4, (phase, counts)
        assert all(n <= 3 for n in counts[first + 1 :]), (phase, counts)
        # within one window of the least time; 30 ms a request (3 s a run of 100) is
        # measured at up to 1.21 windows late at some phases
        assert late <= (1.0 if latency < 0.01 else 1.25), (phase, late)


@pytest.mark.parametrize("phase", [0.0, 6.8, 9.2, 9.9])
def test_a_long_listing_does_not_fall_behind_at_any_phase(phase: float) -> None:
    """2,000 pages: from the sixth window on, each draws at most one refusal (the window's
    length is narrowed by then; over 100 phases at most 2 in the fourth and fifth), and the
    listing ends within one window of the least time (an early pacer kept a stale
    boundary and ended 63 windows late at phase 9.9)."""
    counts, late = list_against_fixed_windows(phase, requests=2000, latency=0.002)
    first = next(i for i, n in enumerate(counts) if n)
    assert counts[first] <= 1 + 4 and all(n <= 3 for n in counts[first + 1 :]), counts
    assert all(n <= 1 for n in counts[5:]), counts
    assert late <= 1.0, late


def test_random_refusals_teach_no_window() -> None:
    clock = SharedFakeClock()
    pacer = Pacer((), clock=clock)
    pattern = [True, True, False, True, False, True, True, True, False, False, True] * 20
    for ok in pattern:
        started = pacer.acquire(10_000)
        if ok:
            pacer.success(started)
        else:
            pacer.quota_answer(started, None, ())
    assert pacer._learn.limit is None


# -- the real process -------------------------------------------------------------------------


def test_a_listing_of_10000_bulks_runs_in_one_burst_under_the_default_quota() -> None:
    emulator, clock = make_emulator(bulks=10_000)
    with running(emulator) as root:
        result = run_bulkctl("list", "--all", "--jsonl", env=Served(emulator, clock, root).env())
    assert result.code == 0, result.stderr
    assert len(result.stdout.splitlines()) == 10_000
    assert len(emulator.requests) == 100
    assert "slowing down" not in result.stderr and "rate limit" not in result.stderr


def test_processes_share_the_quota_through_the_state_file(served: Served) -> None:
    bulk_id = served.state.order[0]
    env = served.env(BULKCTL_RATE_LIMIT="2/1h", BULKCTL_QUOTA_WAIT="0")
    assert run_bulkctl("show", bulk_id, env=env).code == 0
    assert run_bulkctl("show", bulk_id, env=env).code == 0
    third = run_bulkctl("show", bulk_id, env=env)
    assert third.code == 1
    assert "rate limit 2 requests per 1h reached" in third.stderr
    assert "quota_wait" in third.stderr
    assert len(served.emulator.requests) == 2  # the third process never sent its request
    unpaced = run_bulkctl("show", bulk_id, env=served.env(BULKCTL_RATE_LIMIT="0"))
    assert unpaced.code == 0


def test_a_listing_longer_than_the_quota_allows_says_so_with_the_numbers() -> None:
    emulator, clock = make_emulator(bulks=1500)
    with running(emulator) as root:
        env = Served(emulator, clock, root).env(BULKCTL_RATE_LIMIT="8/1h", BULKCTL_QUOTA_WAIT="120")
        result = run_bulkctl("list", "--all", "--jsonl", "--concurrency", "1", env=env)
    assert result.code == 1
    # said up front, after the first page told the size: 14 more pages, 7 fit
    assert (
        "this needs 14 requests; the rate limit (8 requests per 1h) lets 7 start before a "
        "wait longer than quota_wait (2m)" in result.stderr
    )
    assert result.stderr.index("this needs") < result.stderr.index("reached")
    assert "rate limit 8 requests per 1h reached" in result.stderr
    assert "later than bulkctl may wait" in result.stderr
    assert len(emulator.requests) == 8
    assert len(result.stdout.splitlines()) == 800  # the rows fetched stay


def test_a_bad_rate_limit_in_the_environment_is_exit_2(served: Served) -> None:
    result = run_bulkctl("list", env=served.env(BULKCTL_RATE_LIMIT="lots"))
    assert result.code == 2
    assert "rate_limit" in result.stderr
    assert not served.emulator.requests


@pytest.mark.parametrize(
    ("requests", "max_wait", "fits"),
    [(1000, 600, None), (1001, 600, 1000), (250, 0, 100), (100, 0, None), (5000, 3600, None)],
)
def test_a_plan_says_how_many_requests_fit_before_a_wait_longer_than_quota_wait(
    requests: int, max_wait: float, fits: int | None
) -> None:
    pacer = Pacer(parse_rate_limit("100/60s,1000/3600s"), clock=SharedFakeClock())
    message = pacer.plan(requests, max_wait)
    if fits is None:
        assert message is None
    else:
        assert message is not None and f"lets {fits:,} start" in message
        assert f"needs {requests:,} requests" in message
    assert pacer.usage(60).started == 0  # a plan starts nothing


def test_a_read_and_write_cut_short_by_ctrl_c_finishes_quietly_after_close(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C between entering the state file's lock and leaving it leaves that step
    suspended until the command closes the pacer; finishing it then must raise nothing, or
    Python prints "Exception ignored in: <generator object Pacer._state>" after the one line
    an interrupt gets (seen once in test_ctrl_c_exits_130_with_one_line)."""
    import gc

    unraisable: list[object] = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    pacer = Pacer((), clock=SharedFakeClock(), path=tmp_path / "pacer.bin")
    step = pacer._state()
    step.__enter__()  # entered, never left: where the interrupt landed
    pacer.close()  # the command closes its client, and the file with it
    del step
    gc.collect()
    assert unraisable == []


def test_a_stray_refusal_costs_one_short_wait_not_a_limit_for_ever() -> None:
    """A server with no quota that refuses one request (a blip, no headers): the run before
    it is only a guess, dropped when the next run passes it; 2,000 requests of 30 ms take
    about 60 s (an earlier learner held back at the guess for the rest of the command and
    took 120 s)."""
    clock = SerialClock(1_790_000_003.0)
    pacer = Pacer((), clock=clock)
    start, answered, sent = clock.t, 0, 0
    while answered < 2000:
        started = pacer.acquire(10_000)
        clock.t += 0.03
        sent += 1
        if sent == 41:
            pacer.quota_answer(started, None, ())
        else:
            answered += 1
            pacer.success(started)
    assert clock.t - start < 60 + 5
    assert pacer._learn.limit is None and pacer._learn.guess is None


def test_a_pause_between_bursts_teaches_nothing_about_the_window() -> None:
    """Fixed windows of 100 per 10 s, bursts of 300 requests with pauses between them (watch
    between polls, a stopped pager): a pause hides any number of windows, so it must not be
    learned as the window's length (an earlier learner took 1,000 s for W and then refused
    to wait that long)."""
    clock = SerialClock(1_790_000_003.0)
    pacer = Pacer((), clock=clock)
    used: dict[int, int] = {}
    for pause in (0, 1000, 60, 200):
        clock.t += pause
        began, answered = clock.t, 0
        while answered < 300:
            started = pacer.acquire(600)  # QuotaWaitTooLong would fail the test
            clock.t += 0.002
            window = int(started // 10)
            if used.get(window, 0) < 100:
                used[window] = used.get(window, 0) + 1
                answered += 1
                pacer.success(started)
            else:
                pacer.quota_answer(started, None, ())
        assert clock.t - began < 40, (pause, clock.t - began)  # 3 windows, and a little
    assert pacer._learn.w_hi < 60


@pytest.mark.parametrize("phase", [0.0, 13.0, 29.0, 47.0])
@pytest.mark.parametrize(
    ("runners", "rate_limit"), [(3, "100/60s"), (1, "0")], ids=["3 paced runners", "1 unpaced"]
)
def test_runners_sharing_a_quota_each_learn_its_window_within_ten_percent(
    phase: float, runners: int, rate_limit: str
) -> None:
    """A 100/60s quota that names nothing, shared by runners on separate machines (each
    paced to the whole quota, as by default), or met by one runner that does not pace:
    each learns a window of 60 s, give or take 10% (an earlier learner bounded it only
    between 47 s and 92 s, taking any two waits for neighbouring windows)."""
    fleet = runners_sharing_a_quota(
        phase, runners=runners, requests=1800 // runners, rate_limit=rate_limit
    )
    for runner in fleet:
        learned = runner.pacer._learn
        assert learned.limit is not None
        assert 54 <= learned.w_lo <= 60 <= learned.w_hi <= 66, (learned.w_lo, learned.w_hi)


def test_a_fixed_window_lattice_is_fitted_to_boundaries_some_windows_apart() -> None:
    # boundaries at 40 + 60k seen around windows 0, 1, 4 and 9: pairs of waits alone would
    # take 180 s and 300 s for the window; one lattice fits them all at 60 s
    brackets = [(31.0, 41.0), (95.0, 102.0), (275.0, 281.0), (579.0, 583.0)]
    fit = lattice_window(brackets, 1.0)
    assert fit is not None
    lo, hi, ks = fit
    assert ks == [0, 1, 4, 9] and 59 <= lo <= 60 <= hi <= 61
