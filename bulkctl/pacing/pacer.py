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
import hashlib
import math
import os
import re
import stat
import struct
import sys
import threading
import time
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from bulkctl.errors import StorageError, UnsafePath, UsageError
from bulkctl.pacing.learner import (
    PROBE_CAP,
    PROBE_FIRST,
    Learner,
    format_seconds,
)
from bulkctl.safefile import check_private_dir, refuse_symlink

if TYPE_CHECKING:
    from filelock import BaseFileLock

try:
    import fcntl
except ImportError:  # not POSIX: the filelock package locks instead
    fcntl = None  # type: ignore[assignment]

DEFAULT_RATE_LIMIT = "100/60s,1000/3600s"
PROBE_POLL = 0.05  # seconds between looks while another thread's probe is out
PROBE_STALE = 120.0  # a probe out longer than this lost its answer (past request_timeout)
SHARED_MAX = 86400.0  # seconds: the longest a server-named wait or a learned window is shared
SUSPECT_LIMIT = 5  # a learned window allowing fewer requests is kept for one command only
MAGIC = b"bulkctl-pacer\x02"
HEADER = struct.Struct("<dd I H")  # base time, blocked until, entries, learned windows
WINDOW = struct.Struct("<I d d")  # limit, seconds, expires (wall time)
MAX_STATE_BYTES = 1 << 20  # a larger file is not ours: start afresh
MAX_ENTRIES = 100_000
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RATE = re.compile(r"(\d+)\s*/\s*(\d+(?:\.\d+)?)\s*([smhd]?)")


class PacerClock(Protocol):
    def now(self) -> float: ...

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


@dataclass(frozen=True, order=True)
class Window:
    """At most ``limit`` request starts within any ``seconds``."""

    seconds: float
    limit: int

    def __str__(self) -> str:
        return f"{self.limit} requests per {format_seconds(self.seconds)}"


def parse_rate_limit(text: str) -> tuple[Window, ...]:
    """'100/60s,1000/3600s' -> windows; a bare number is requests a minute; '0' is none."""
    text = text.strip().lower()
    if text in ("0", "off", "none"):
        return ()
    windows: list[Window] = []
    for part in text.split(","):
        part = part.strip()
        if part.isascii() and part.isdigit():
            part += "/60s"
        match = _RATE.fullmatch(part)
        seconds = float(match.group(2)) * UNITS[match.group(3) or "s"] if match else 0.0
        if match is None or int(match.group(1)) < 1 or not 0 < seconds <= 86400:
            raise UsageError(
                f"invalid rate limit {text!r}",
                hint="write N/WINDOW[,N/WINDOW...], e.g. 100/60s,1000/1h; a bare N is N a "
                "minute; 0 turns pacing off",
            )
        windows.append(Window(seconds, int(match.group(1))))
    return merge_windows(windows)


def merge_windows(windows: Iterable[Window]) -> tuple[Window, ...]:
    """One window per size, the strictest limit kept, sorted by size."""
    best: dict[float, int] = {}
    for w in windows:
        best[w.seconds] = min(w.limit, best.get(w.seconds, w.limit))
    return tuple(Window(s, n) for s, n in sorted(best.items()))


def parse_limit_header(value: str | None) -> tuple[Window, ...]:
    """The windows named in ``x-ratelimit-limit`` ('20, 10;w=60, 20;w=3600'); a bare first
    number (the limit that was exceeded) names no window and is skipped."""
    if not value:
        return ()
    windows = []
    for part in value.split(",")[:16]:
        limit, _, rest = part.strip().partition(";")
        match = re.fullmatch(r"\s*w\s*=\s*(\d{1,6})\s*", rest)
        if match is None or not limit.strip().isdigit():
            continue
        n, seconds = int(limit), int(match.group(1))
        if 1 <= n <= MAX_ENTRIES and 1 <= seconds <= 7 * 86400:  # past a day: suspect
            windows.append(Window(float(seconds), n))
    return merge_windows(windows)


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


@dataclass(frozen=True)
class PaceUsage:
    """Requests started within the last ``seconds`` (all processes), and the limit in force."""

    started: int
    limit: int | None
    seconds: float


@dataclass
class _Record:
    starts: list[float]
    blocked_until: float
    learned: dict[Window, float]  # a window learned from an answer -> when it expires


def state_file(state_dir: Path, base_url: str, api_key: str | None) -> Path:
    """One record per API host and key (a programme's quota); the key is only hashed."""
    digest = hashlib.sha256(f"{base_url}\n{api_key or ''}".encode()).hexdigest()[:16]
    return state_dir / f"pacer-{digest}.bin"


def encode(record: _Record) -> bytes:
    starts = record.starts[-MAX_ENTRIES:]
    base = starts[0] if starts else 0.0
    # milliseconds after the oldest start, rounded up: a start never looks older than it was
    offsets = array("I", [min(0xFFFFFFFF, math.ceil((t - base) * 1000)) for t in starts])
    if sys.byteorder != "little":
        offsets.byteswap()
    learned = sorted(record.learned.items())[:64]
    return b"".join(
        [
            MAGIC,
            HEADER.pack(base, record.blocked_until, len(offsets), len(learned)),
            *(WINDOW.pack(w.limit, w.seconds, expires) for w, expires in learned),
            offsets.tobytes(),
        ]
    )


def decode(data: bytes) -> _Record | None:
    """The record in ``data``, or None when it is not a well-formed pacer file."""
    if not data.startswith(MAGIC):
        return None
    try:
        at = len(MAGIC)
        base, blocked, count, n_learned = HEADER.unpack_from(data, at)
        at += HEADER.size
        learned: dict[Window, float] = {}
        for _ in range(n_learned):
            limit, seconds, expires = WINDOW.unpack_from(data, at)
            at += WINDOW.size
            fits = SUSPECT_LIMIT <= limit <= MAX_ENTRIES and 0 < seconds <= SHARED_MAX
            if fits and math.isfinite(expires):
                learned[Window(seconds, limit)] = expires
        if count > MAX_ENTRIES or len(data) != at + 4 * count:
            return None
        offsets = array("I", data[at:])
        if sys.byteorder != "little":
            offsets.byteswap()
    except (struct.error, ValueError):
        return None
    if not (math.isfinite(base) and math.isfinite(blocked)):
        return None
    return _Record(sorted(base + o / 1000 for o in offsets), blocked, learned)


class Pacer:
    """Decides when each request may start; one per command, shared by its threads."""

    def __init__(
        self,
        windows: tuple[Window, ...],
        *,
        clock: PacerClock,
        path: Path | None = None,
        note: Callable[[str], None] | None = None,
    ) -> None:
        self.windows = windows
        self.clock = clock
        self.path = path
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
        self._learn = Learner()
        self._file: _SharedFile | None = None

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
                    record.starts.append(now)
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
        with self._lock:
            shared = self._open()
            if shared is None:
                self._prune(self._memory)
                yield self._memory
                return
            try:
                shared.lock()
            except OSError:
                self._give_up_file()
                self._prune(self._memory)
                yield self._memory
                return
            try:
                record = self._read(shared)
                self._prune(record)
                yield record
                if write:
                    # on failure the next reader finds what it can; pacing goes on in memory
                    with contextlib.suppress(OSError):
                        shared.write(encode(record))
                self._memory = record
            finally:
                shared.unlock()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _open(self) -> _SharedFile | None:
        if self._file is None and self.path is not None:
            try:
                self._file = _SharedFile(self.path)
            except (OSError, StorageError):
                # an unusable state folder must not stop requests: pace this process alone
                self.path = None
        return self._file

    def _give_up_file(self) -> None:
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

    def _read(self, shared: _SharedFile) -> _Record:
        try:
            data = shared.read(MAX_STATE_BYTES + 1)
        except OSError:
            data = b""
        record = decode(data) if len(data) <= MAX_STATE_BYTES else None
        if record is None:  # new, corrupt or foreign: start afresh from what this process saw
            memory = self._memory
            return _Record(list(memory.starts), memory.blocked_until, dict(memory.learned))
        return record


WHAT_FILE = "the pacer's state file"


def forget_learned(state_dir: Path) -> list[Path]:
    """Forget what answers taught (learned windows, a wait the server named) in every pacer
    file of ``state_dir``; the times of recent requests stay. Returns the files changed."""
    changed = []
    for path in sorted(state_dir.glob("pacer-*.bin")):
        shared = _SharedFile(path)
        try:
            shared.lock()
            try:
                data = shared.read(MAX_STATE_BYTES + 1)
                record = decode(data)
                if (record is None and data) or (
                    record and (record.learned or record.blocked_until)
                ):
                    kept = record.starts if record is not None else []
                    shared.write(encode(_Record(kept, 0.0, {})))
                    changed.append(path)
            finally:
                shared.unlock()
        finally:
            shared.close()
    return changed


class _SharedFile:
    """The record file, opened once and locked around each read-and-write.

    On POSIX a plain ``flock`` on the file itself (microseconds, and no import at start-up);
    elsewhere the ``filelock`` package with a lock file beside it."""

    LOCK_TIMEOUT = 10.0

    def __init__(self, path: Path) -> None:
        """Open (or create) the file; UnsafePath for a file or folder another user may have
        written (another owner, a link, group or other write), as for the config file."""
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        check_private_dir(path.parent, "the state folder")
        refuse_symlink(path, WHAT_FILE)
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
        self.fd = os.open(path, flags, 0o600)
        mode = stat.S_IMODE(os.fstat(self.fd).st_mode)
        if mode & 0o022:
            os.close(self.fd)
            raise UnsafePath(
                f"{WHAT_FILE} {path} is writable by other users (mode {mode:o}), so they could "
                "decide when bulkctl may send; bulkctl does not trust it",
                hint=f"run: chmod 600 {path}   (or remove it: it holds only request times)",
            )
        self.fallback: BaseFileLock | None = None
        if fcntl is None:
            from filelock import FileLock

            self.fallback = FileLock(str(path) + ".lock", timeout=self.LOCK_TIMEOUT, mode=0o600)

    def lock(self) -> None:
        """Hold the lock, or raise OSError after LOCK_TIMEOUT seconds."""
        if self.fallback is not None:
            from filelock import Timeout

            try:
                self.fallback.acquire()
            except Timeout as exc:
                raise OSError("the pacer's state file stays locked") from exc
            return
        assert fcntl is not None
        give_up = time.monotonic() + self.LOCK_TIMEOUT
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > give_up:
                    raise
                time.sleep(0.001)  # held by another process for a read and a write: short

    def unlock(self) -> None:
        """Let go of the lock; never raises. A Ctrl-C can leave a read-and-write suspended
        until the command is closing, when the file may be closed already (its lock with it);
        an error here would print "Exception ignored" after the one line an interrupt gets."""
        with contextlib.suppress(OSError):
            if self.fallback is not None:
                self.fallback.release()
            elif fcntl is not None:
                fcntl.flock(self.fd, fcntl.LOCK_UN)

    def read(self, most: int) -> bytes:
        os.lseek(self.fd, 0, os.SEEK_SET)
        parts, size = [], 0
        while size < most:
            chunk = os.read(self.fd, most - size)
            if not chunk:
                break
            parts.append(chunk)
            size += len(chunk)
        return b"".join(parts)

    def write(self, data: bytes) -> None:
        os.lseek(self.fd, 0, os.SEEK_SET)
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view) :]
        os.ftruncate(self.fd, len(data))

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)


def _free_at(starts: list[float], window: Window, now: float) -> float:
    """Earliest time >= now at which one more start keeps ``window``: the start ``limit``
    places back from the end must have left the window."""
    if len(starts) < window.limit:
        return now
    # starts are sorted: the start ``limit`` places back decides
    at = starts[len(starts) - window.limit] + window.seconds + 1e-3  # past it, not on it
    return max(now, at)
