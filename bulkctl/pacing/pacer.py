"""Request quotas, client side: one pacer that every request passes before it starts.

The pacer keeps the start times of recent requests and lets a request start only when no
configured window ``N/W`` would then hold more than ``N`` starts within any ``W`` seconds
(a sliding window, so it never overruns a server's fixed window of the same size). The
record is shared by the user's bulkctl processes through a small binary file in the state
folder, read and written under a lock, pruned to the largest window.

Quota answers from the server (429, 409 TOO_MANY_REQUESTS) block every request of every
process until the time the server named (``Retry-After`` / ``x-ratelimit-reset``), shared for
at most a day; without such a header, probes follow with growing delays. Windows the server
names in ``x-ratelimit-limit`` are evidence, not law: each is paced until the window after the
named reset ends (a day at most); one that allows fewer than ``SUSPECT_LIMIT`` requests is used
by this command only, never shared; and one that the next answered request contradicts is
dropped. ``forget_learned`` (``bulkctl config reset-limits``) forgets them all.

Without any header the pacer learns the server's fixed window from the answers alone: the
run of answered requests before a refusal that lasts is the limit N, and each wait ends at
a window boundary, between the last refused probe and the first answer. From then on it
holds requests back after N starts in a window and probes where the next boundary can lie.
While a quota wait lasts, one request at a time is out: a probe, never a burst.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

import msgspec

from bulkctl.errors import StorageError
from bulkctl.pacing.learner import PROBE_CAP, PROBE_FIRST, Learner, QuotaLearner
from bulkctl.pacing.rates import (
    MAX_ENTRIES,
    Window,
    format_seconds,
    merge_windows,
    parse_limit_header,
    parse_rate_limit,
)
from bulkctl.pacing.store import (
    MAGIC,
    SHARED_MAX,
    SUSPECT_LIMIT,
    FileStore,
    Store,
    _Record,
    decode,
    encode,
    forget_learned,
    state_file,
)

__all__ = [  # names importers take from here; each lives in rates.py or store.py
    "MAGIC",
    "SHARED_MAX",
    "PaceUsage",
    "Pacer",
    "QuotaWaitTooLong",
    "Window",
    "_Record",
    "decode",
    "encode",
    "forget_learned",
    "parse_limit_header",
    "parse_rate_limit",
    "state_file",
]

PROBE_POLL = 0.05  # seconds between looks while another thread's probe is out
PROBE_STALE = 120.0  # a probe out longer than this lost its answer (past request_timeout)


class PacerClock(Protocol):
    def now(self) -> float: ...

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class QuotaWaitTooLong(Exception):
    """The quota allows the next request only later than the caller can wait: why, in how
    many seconds it could start, whether the API itself said so, and how long was left."""

    def __init__(self, why: str, wait: float, *, blocked: bool, left: float) -> None:
        self.why, self.wait, self.blocked, self.left = why, wait, blocked, left
        self.message = (
            f"{why}: the next request could start in {format_seconds(wait)}, "
            f"later than bulkctl may wait ({format_seconds(left)} left)"
        )
        super().__init__(self.message)


class PaceUsage(msgspec.Struct, frozen=True):
    """Requests started within the last ``seconds`` (all processes), and the limit in force."""

    started: int
    limit: int | None
    seconds: float


class Pacer:
    """Decides when each request may start; one per command, shared by its threads."""

    def __init__(
        self,
        windows: tuple[Window, ...],
        *,
        clock: PacerClock,
        path: Path | None = None,
        note: Callable[[str], None] | None = None,
        store: Store | None = None,
        learner: QuotaLearner | None = None,
    ) -> None:
        """``path``: the state file shared with the user's other processes (a ``FileStore``),
        or ``store``, any other ``Store``; with neither, this command paces alone."""
        self.windows = windows
        self.clock = clock
        self.path = path  # None once the file proves unusable: this command paces alone
        self.state_path = path  # the file meant to be shared, for messages
        self.note = note
        self._lock = threading.Lock()
        self._memory = _Record([], 0.0, {})
        self._local: dict[Window, float] = {}  # suspect learned windows: this command only
        # the latest answer that named windows: when, until when a success contradicts them
        self._named: tuple[float, float, tuple[Window, ...]] | None = None
        self._probe = 0.0  # the delay of the last probe after a header-less quota answer
        self._answers = 0  # quota answers since the last request answered
        self._last_quota_at = -math.inf  # wall time of the latest quota answer taken in
        self._quota_since: float | None = None  # a wait for the API's quota is going on
        self._waits = 0  # quota waits so far: only the first is noted
        self._pacing_noted = False
        self._told = False  # a header explained a quota answer: nothing to learn
        self._probe_out: float | None = None  # the start of the one request out during a wait
        # what header-less quota answers teach about a server's fixed window (see Learner)
        self._learn: QuotaLearner = learner if learner is not None else Learner()
        self._store: Store | None = store

    # -- what requests call ---------------------------------------------------------------

    def acquire(self, max_wait: float) -> float:
        """Block until a request may start, record its start and return its (wall) time.

        Raises ``QuotaWaitTooLong`` at once when the next start lies more than ``max_wait``
        seconds ahead."""
        waited = 0.0
        while True:
            with self._state() as record:
                now = self.clock.now()
                ready, why, blocked = self._ready_at(record, now)
                if ready <= now:
                    if not self._record_start(record, now):
                        continue  # another process changed the shared record: look again
                    self._learn.started(now)
                    if self._quota_since is not None or self._learn.waiting:
                        self._probe_out = now  # one request at a time until the wait ends
                    return now
            wait = ready - now
            if wait > max_wait - waited + 1e-9:
                left = max(0.0, max_wait - waited)
                raise QuotaWaitTooLong(why, wait, blocked=blocked, left=left)
            self._begin_wait(why, blocked, max_wait)
            self.clock.sleep(wait)
            waited += wait

    def quota_answer(
        self, started: float, retry_after: float | None, windows: tuple[Window, ...]
    ) -> None:
        """A request started at ``started`` drew a quota answer: block everyone until the time
        the server named, else until the next probe; learn the windows it named."""
        with self._state() as record:
            now = self.clock.now()
            reset = max(0.0, retry_after or 0.0)
            for window in windows:
                # a window that allows almost nothing, or lasts past a day, may be a hostile
                # answer: believed by this command only, never shared
                suspect = window.limit < SUSPECT_LIMIT or window.seconds > SHARED_MAX
                book = self._local if suspect else record.learned
                # evidence for the window now ending and one more after it, a day at most
                ends = now + min(reset + window.seconds, SHARED_MAX)
                book[window] = max(book.get(window, 0.0), ends)
            if windows:
                # an answer before the first of them could have reset contradicts them
                opens = retry_after if retry_after is not None else min(w.seconds for w in windows)
                self._named = (now, now + max(0.0, opens), windows)
            if windows or retry_after is not None:
                self._told = True
            fresh = started > self._last_quota_at  # not one more answer to the same burst
            if self._probe_out is not None and started >= self._probe_out:
                self._probe_out = None
            if retry_after is not None and (retry_after >= PROBE_FIRST or self._answers == 0):
                # shared with every process for a day at most, however far the server names
                until = now + min(max(0.0, retry_after), SHARED_MAX)
            else:
                # no header, or "try now" said again: probe with growing delays, never a loop
                if fresh or self._probe == 0:
                    self._probe = min(PROBE_CAP, self._probe * 2 or PROBE_FIRST)
                until = now + self._probe
                if not self._told:
                    until = self._learn.refused(started, now, fresh, until)
            if fresh:
                self._answers += 1
            record.blocked_until = max(record.blocked_until, until)
            self._last_quota_at = now

    def success(self, started: float) -> None:
        """A request started at ``started`` was answered: probes start short again (answers to
        requests sent before the last quota answer tell nothing)."""
        named = self._named
        if named is not None and started >= named[0]:
            self._named = None
            if started < named[1]:  # answered before the named windows could reset: not so
                with self._state() as record:
                    for window in named[2]:
                        record.learned.pop(window, None)
                        self._local.pop(window, None)
        with self._lock:
            if self._probe_out is not None and started >= self._probe_out:
                self._probe_out = None
            ended_wait = self._learn.answered(started, told=self._told)
            if started <= self._last_quota_at:
                return
            since = self._quota_since
            if since is None and not ended_wait:
                return
            self._probe = 0.0
            self._answers = 0
            self._quota_since = None
            now = self.clock.now()
            first_wait = self._waits == 1
            learned = None if self._told else self._learn.describe()
        if since is not None and first_wait and self.note is not None:
            waited = format_seconds(now - since)
            later = f"; from now on at most {learned}" if learned else ""
            self.note(f"the API's quota allows requests again (waited {waited}){later}; going on")

    def answered(self, started: float) -> None:
        """A request started at ``started`` got another answer, or none: the next may go."""
        with self._lock:
            if self._probe_out is not None and started >= self._probe_out:
                self._probe_out = None

    def plan(self, requests: int, max_wait: float) -> str | None:
        """Whether ``requests`` more starts fit the known windows with no single wait longer
        than ``max_wait``: None when they do, else a line with the numbers."""
        with self._state(write=False) as record:
            windows = self._windows(record)
            starts = list(record.starts)
            now = self.clock.now()
        if not windows or requests <= 0:
            return None
        t = now
        for done in range(min(requests, MAX_ENTRIES)):
            ready = max(_free_at(starts, w, t) for w in windows)
            if ready - t > max_wait + 1e-9:
                names = ", ".join(str(w) for w in windows)
                return (
                    f"this needs {requests:,} requests; the rate limit ({names}) lets "
                    f"{done:,} start before a wait longer than quota_wait "
                    f"({format_seconds(max_wait)})"
                )
            t = ready
            starts.append(t)
        return None

    def time_to_start(self, requests: int) -> float:
        """Seconds from now until the last of ``requests`` more requests may start, each as
        soon as the known windows allow, given the starts already recorded in them (every
        process's, with a shared record) and a wait the API named: 0 with no window (a
        ``rate_limit`` of "0" is unlimited). For an ETA: the quota's share of what is left."""
        with self._state(write=False) as record:
            windows = self._windows(record)
            starts = list(record.starts)
            now = self.clock.now()
            at = max(now, record.blocked_until)
        if requests <= 0:
            return 0.0
        for _ in range(min(requests, MAX_ENTRIES) if windows else 0):
            at = max(_free_at(starts, w, at) for w in windows)
            starts.append(at)
        return at - now

    def usage(self, seconds: float = 60.0) -> PaceUsage:
        """How many requests started within the last ``seconds``, and the limit for it."""
        with self._state(write=False) as record:
            now = self.clock.now()
            started = sum(1 for t in record.starts if t > now - seconds)
            limits = [w.limit for w in self._windows(record) if w.seconds == seconds]
        return PaceUsage(started, min(limits) if limits else None, seconds)

    # -- inside ---------------------------------------------------------------------------

    def _windows(self, record: _Record) -> tuple[Window, ...]:
        now = self.clock.now()
        learned = [
            w for book in (record.learned, self._local) for w, ends in book.items() if ends > now
        ]
        return merge_windows((*self.windows, *learned))

    def _ready_at(self, record: _Record, now: float) -> tuple[float, str, bool]:
        """When the next start may be, why, and whether the API itself said so."""
        ready, why, blocked = now, "", False
        if record.blocked_until > now:
            ready, why, blocked = (
                record.blocked_until,
                "the API answered that its request quota is used up",
                True,
            )
        held = self._learn.hold(now)
        if held is not None and held > ready:
            ready, why, blocked = held, "the API's request quota is used up for now", True
        if self._probe_out is not None and ready <= now:
            if now - self._probe_out < PROBE_STALE:
                ready, why, blocked = now + PROBE_POLL, "a probe of the API's quota is out", True
            else:  # its answer never came back to us: let another go
                self._probe_out = None
        for window in self._windows(record):
            at = _free_at(record.starts, window, now)
            if at > ready:
                ready, why, blocked = at, f"rate limit {window} reached", False
        return ready, why, blocked

    def _begin_wait(self, why: str, blocked: bool, max_wait: float) -> None:
        """One note when a wait for the API's quota starts; one when pacing first slows."""
        with self._lock:
            if blocked and self._quota_since is None:
                self._quota_since = self.clock.now()
                self._waits += 1
                if self._waits > 1:
                    return  # one note for the first wait; later ones go on quietly
                message = f"{why}; waiting for it (up to {format_seconds(max_wait)})"
            elif not blocked and not self._pacing_noted:
                self._pacing_noted = True
                message = f"{why}: slowing down to stay within it"
            else:
                return
        if self.note is not None:
            self.note(message)

    @contextlib.contextmanager
    def _state(self, write: bool = True) -> Iterator[_Record]:
        """The record, pruned, held for the block: the shared one, else this process's own."""
        with self._lock:
            store = self._open()
            if store is None:
                self._prune(self._memory)
                yield self._memory
                return
            with store.update(self._memory, write=write) as record:
                if record is None:  # the store cannot be used: pace this process alone
                    self._give_up_store()
                    self._prune(self._memory)
                    yield self._memory
                    return
                self._prune(record)
                yield record
                self._memory = record

    def _record_start(self, record: _Record, now: float) -> bool:
        if self._store is None or record is self._memory:  # pacing alone
            record.starts.append(now)
            return True
        return self._store.start(record, now)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def _open(self) -> Store | None:
        if self._store is None and self.path is not None:
            try:
                self._store = FileStore(self.path)
            except (OSError, StorageError):
                # an unusable state folder must not stop requests: pace this process alone
                self.path = None
        return self._store

    def _give_up_store(self) -> None:
        self.close()
        self.path = None

    def _prune(self, record: _Record) -> None:
        now = self.clock.now()
        horizon = max((w.seconds for w in self._windows(record)), default=0.0)
        starts = record.starts
        if starts and (starts[0] <= now - horizon or starts[-1] > now):
            # a clock set back must not leave starts in the future blocking for ever
            record.starts = sorted(min(t, now) for t in starts if t > now - horizon)
        if record.blocked_until > now + SHARED_MAX:  # a day at most, never "now"
            record.blocked_until = now + SHARED_MAX
        for book in (record.learned, self._local):
            for window, ends in list(book.items()):
                if ends <= now or ends > now + SHARED_MAX:
                    del book[window]


def _free_at(starts: list[float], window: Window, now: float) -> float:
    """Earliest time >= now at which one more start keeps ``window``: the start ``limit``
    places back from the end must have left the window."""
    if len(starts) < window.limit:
        return now
    # starts are sorted: the start ``limit`` places back decides
    at = starts[len(starts) - window.limit] + window.seconds + 1e-3  # past it, not on it
    return max(now, at)
