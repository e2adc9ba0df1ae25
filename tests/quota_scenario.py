"""The quota scenario of issue 10, in-process: ``list --all --jsonl`` over many bulks against
an emulator that applies fixed windows, the command's clock tied to the emulator's.

Shared by tests/test_quota_listing.py, tests/test_pacer.py and benchmarks/quota.py. Every
request is logged with its time on the emulator's clock and whether the quota refused it,
so the least time the quota allows and the quota answers per window are computed from the
log, not wall time. ``list_against_fixed_windows`` is the pacer alone, one request at a
time, fast enough to try every phase of a window.
"""

from __future__ import annotations

import io
import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bulkctl.cli.options import choose_output
from bulkctl.commands import list as list_cmd
from bulkctl.context import Clock, Context, GlobalOptions
from bulkctl.emulator.app import DEMO_API_KEY, DEMO_TOKEN, Emulator, Faults, Request, Response
from bulkctl.emulator.quota import Quota, parse_quota
from bulkctl.emulator.state import EmulatorState
from bulkctl.emulator.transport import EmulatorTransport
from bulkctl.errors import BulkctlError
from bulkctl.output.render import BULK_ALL_FIELDS, BULK_FIELDS
from bulkctl.pacing.pacer import Pacer, QuotaWaitTooLong, parse_rate_limit

T0 = 1_790_000_000.0  # a multiple of 10 and 60: the command starts as a window opens


class SharedClock:
    """One fake time for the emulator and every thread of the command, moved as a discrete
    event simulation: a sleeper wakes when it is the earliest sleeper and nothing else has
    happened for a moment of real time (the other threads are all waiting), so time never
    jumps past a request that is on its way, and concurrent sleeps do not add up."""

    QUIET = 0.004  # real seconds without activity before time moves on
    STUCK = 0.05  # ... or with a thread that read the time and has not sent its request yet

    def __init__(self, start: float) -> None:
        self.t = start
        self.lock = threading.Lock()
        self.sleepers: list[float] = []
        self.touched = time.monotonic()
        self.busy: set[int] = set()  # threads between reading the time and their request

    def __call__(self) -> float:
        with self.lock:
            return self.t

    def read(self) -> float:
        """The time, read by the command: this thread may be about to send a request."""
        with self.lock:
            self.busy.add(threading.get_ident())
            return self.t

    def touch(self, later: float = 0.0) -> None:
        """A request arrived: time moves on by ``later`` seconds."""
        with self.lock:
            self.t += later
            self.touched = time.monotonic()
            self.busy.discard(threading.get_ident())

    def sleep(self, seconds: float) -> None:
        with self.lock:
            wake = self.t + max(seconds, 0.0)
            self.sleepers.append(wake)
            self.busy.discard(threading.get_ident())
        try:
            while True:
                with self.lock:
                    if self.t >= wake:
                        return
                    idle = time.monotonic() - self.touched
                    quiet = idle > (self.STUCK if self.busy else self.QUIET)
                    if quiet and wake <= min(self.sleepers):
                        self.t = wake
                        self.touched = time.monotonic()
                        return
                time.sleep(0.0005)
        finally:
            with self.lock:
                self.sleepers.remove(wake)


class CommandClock(Clock):
    def __init__(self, shared: SharedClock) -> None:
        self.shared = shared

    def now(self) -> float:
        return self.shared.read()

    def monotonic(self) -> float:
        return self.shared.read()

    def sleep(self, seconds: float) -> None:
        self.shared.sleep(seconds)


class LoggingEmulator(Emulator):
    """Logs (time, refused by the quota) per request; each answer takes ``latency`` s."""

    latency = 0.002

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.log: list[tuple[float, bool]] = []
        self._log_lock = threading.Lock()

    def handle(self, request: Request) -> Response:
        with self._log_lock:
            before = self.quota_answer_count
            response = super().handle(request)
            self.log.append((self.clock(), self.quota_answer_count > before))
        if isinstance(self.clock, SharedClock):
            self.clock.touch(self.latency)
        return response


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str
    emulator: LoggingEmulator
    limit: int
    seconds: int
    answers_per_window: dict[int, int] = field(default_factory=dict)

    @property
    def records(self) -> list[str]:
        return self.stdout.splitlines()

    @property
    def first(self) -> float:
        return self.emulator.log[0][0]

    @property
    def last_answered(self) -> float:
        return max(t for t, refused in self.emulator.log if not refused)

    def least_end(self, requests: int) -> float:
        """When the last of ``requests`` could start at the earliest: the quota admits
        ``limit`` in each fixed window after the one the command began in, and in that one
        no more than the command's first burst got (it may have begun near its end)."""
        first_window = math.floor(self.first / self.seconds)
        in_first = sum(
            1
            for t, refused in self.emulator.log
            if not refused and math.floor(t / self.seconds) == first_window
        )
        more = math.ceil(max(0, requests - in_first) / self.limit)
        return (first_window + more) * self.seconds if more else self.first

    def late(self, requests: int) -> float:
        """Seconds the last answered request started after the least time; in windows."""
        return (self.last_answered - self.least_end(requests)) / self.seconds

    def windows(self) -> list[int]:
        """Quota answers in each fixed window from the first to the last request."""
        first = math.floor(self.first / self.seconds)
        last = math.floor(self.emulator.log[-1][0] / self.seconds)
        counts = [0] * (last - first + 1)
        for t, refused in self.emulator.log:
            if refused:
                counts[math.floor(t / self.seconds) - first] += 1
        return counts


def run_listing(
    tmp_path: Path,
    *,
    bulks: int = 25_000,
    quota: str = "100/10s",
    headers: bool = False,
    rate_limit: str = "0",
    concurrency: int = 8,
    start: float = T0,
    quota_wait: str = "600",
) -> Outcome:
    """``bulkctl list --all --jsonl`` in-process against a quota; the outcome and its log."""
    shared = SharedClock(start)
    windows = parse_quota(quota)
    assert len(windows) == 1
    emulator = LoggingEmulator(
        EmulatorState(bulks=bulks, now=start),
        clock=shared,
        faults=Faults(quota=windows, quota_headers=headers),
    )
    ctx = Context(
        stdout=io.StringIO(),
        stderr=io.StringIO(),
        stdin=io.StringIO(),
        env={
            "BULKCTL_BASE_URL": "http://127.0.0.1:9/multi",
            "BULKCTL_API_KEY": DEMO_API_KEY,
            "BULKCTL_AUTH_TOKEN": DEMO_TOKEN,
            "BULKCTL_RATE_LIMIT": rate_limit,
            "BULKCTL_QUOTA_WAIT": quota_wait,
        },
        config_dir=tmp_path / "cfg",
        state_dir=tmp_path / "state",
        clock=CommandClock(shared),
        options=GlobalOptions(),
        stdout_tty=False,
        transport=EmulatorTransport(emulator),
    )
    output = choose_output(
        output=None,
        json_flag=False,
        jsonl_flag=True,
        fields_spec=None,
        header=True,
        stdout_tty=False,
        available=BULK_ALL_FIELDS,
        default_fields=BULK_FIELDS,
    )
    options = list_cmd.ListOptions(
        statuses=[], wanted=None, offset=0, output=output, concurrency=concurrency
    )
    code = 0
    try:
        list_cmd.run(ctx, options)
    except BulkctlError as exc:
        print(f"bulkctl: error: {exc.message}", file=ctx.stderr)
        code = exc.exit_code
    finally:
        ctx.close()
    out = ctx.stdout.getvalue()  # type: ignore[attr-defined]
    err = ctx.stderr.getvalue()  # type: ignore[attr-defined]
    return Outcome(code, out, err, emulator, windows[0].limit, windows[0].seconds)


class SerialClock:
    """A fake clock for one thread: sleeping and each request move it on."""

    def __init__(self, start: float) -> None:
        self.t = start

    def now(self) -> float:
        return self.t

    def monotonic(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += max(0.0, seconds)


def list_against_fixed_windows(
    phase: float, *, requests: int, latency: float, limit: int = 100, seconds: float = 10.0
) -> tuple[list[int], float]:
    """One request at a time against fixed windows of ``limit`` per ``seconds`` that name
    nothing, the command starting ``phase`` seconds into a window: the refusals in each
    window from the first, and how many windows late the last answer came."""
    base = 1_790_000_000.0  # a multiple of every window here
    clock = SerialClock(base + phase)
    pacer = Pacer((), clock=clock)
    used: dict[int, int] = {}
    refused: dict[int, int] = {}
    answered, last = 0, 0.0
    while answered < requests:
        started = pacer.acquire(10_000)
        clock.t += latency
        window = int(started // seconds)
        if used.get(window, 0) < limit:
            used[window] = used.get(window, 0) + 1
            answered, last = answered + 1, started
            pacer.success(started)
        else:
            refused[window] = refused.get(window, 0) + 1
            pacer.quota_answer(started, None, ())
    first = int((base + phase) // seconds)
    counts = [refused.get(w, 0) for w in range(first, int(last // seconds) + 1)]
    more = -(-max(0, requests - used.get(first, 0)) // limit)
    least = (first + more) * seconds if more else base + phase
    return counts, (last - least) / seconds


@dataclass
class Runner:
    """One runner of ``runners_sharing_a_quota``: its pacer, and what the server answered."""

    pacer: Pacer
    answered: int = 0
    refused: int = 0


def runners_sharing_a_quota(
    phase: float,
    *,
    runners: int = 3,
    requests: int = 600,
    latency: float = 0.05,
    rate_limit: str = "100/60s",
    quota: str = "100/60s",
) -> list[Runner]:
    """Runners on separate machines (a pacer each, no shared file) against one server's
    fixed windows that name nothing, as a discrete-event simulation on one fake clock: each
    runner sends one request at a time, ``latency`` s apart, and waits as its pacer says."""
    clock = SerialClock(T0 + phase)
    server = Quota(parse_quota(quota))
    fleet = [Runner(Pacer(parse_rate_limit(rate_limit), clock=clock)) for _ in range(runners)]
    due = [clock.t + i * 0.01 for i in range(runners)]
    while busy := [i for i, r in enumerate(fleet) if r.answered < requests]:
        i = min(busy, key=lambda j: due[j])
        clock.t = max(clock.t, due[i])
        runner = fleet[i]
        try:
            started = runner.pacer.acquire(0)
        except QuotaWaitTooLong as exc:  # the runner would sleep this long: others go on
            due[i] = clock.t + exc.wait
            continue
        if server.admit(started) is None:
            runner.answered += 1
            runner.pacer.success(started)
        else:
            runner.refused += 1
            runner.pacer.quota_answer(started, None, ())
        due[i] = clock.t + latency
    return fleet
