"""Request quotas, client side: one pacer that every request passes before it starts.

The pacer keeps the start times of recent requests and lets a request start only when no
configured window ``N/W`` would then hold more than ``N`` starts within any ``W`` seconds
(a sliding window, so it never overruns a server's fixed window of the same size). The
record is shared by the user's bulkctl processes through a small binary file in the state
folder, read and written under a lock, pruned to the largest window.

Quota answers from the server (429, 409 TOO_MANY_REQUESTS) block every request of every
process until the time the server named (``Retry-After`` / ``x-ratelimit-reset``); without
such a header, probes follow with growing delays. Windows the server names in
``x-ratelimit-limit`` are learned and paced from then on.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import re
import struct
import sys
import threading
import time
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from bulkctl.errors import UsageError

if TYPE_CHECKING:
    from filelock import BaseFileLock

try:
    import fcntl
except ImportError:  # not POSIX: the filelock package locks instead
    fcntl = None  # type: ignore[assignment]

DEFAULT_RATE_LIMIT = "100/60s,1000/3600s"
PROBE_FIRST = 1.0  # seconds before the first probe after a quota answer without headers
PROBE_CAP = 60.0
GUESS_MIN_RUN = 5  # answered requests in a run before a window is guessed from it
MAGIC = b"bulkctl-pacer\x01"
HEADER = struct.Struct("<dd I H")  # base time, blocked until, entries, learned windows
WINDOW = struct.Struct("<I d")  # limit, seconds
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


def format_seconds(seconds: float) -> str:
    """60 -> '60s', 3600 -> '1h', 600 -> '10m', 90.5 -> '91s'."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and abs(seconds - round(seconds / size) * size) < 0.01:
            return f"{round(seconds / size)}{unit}"
    return f"{math.ceil(seconds - 0.01)}s"


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
        if 1 <= n <= MAX_ENTRIES and 1 <= seconds <= 86400:
            windows.append(Window(float(seconds), n))
    return merge_windows(windows)


class QuotaWaitTooLong(Exception):
    """The quota allows the next request only later than the caller can wait."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


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
    learned: tuple[Window, ...]


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
    learned = record.learned[:64]
    return b"".join(
        [
            MAGIC,
            HEADER.pack(base, record.blocked_until, len(offsets), len(learned)),
            *(WINDOW.pack(w.limit, w.seconds) for w in learned),
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
        learned = []
        for _ in range(n_learned):
            limit, seconds = WINDOW.unpack_from(data, at)
            at += WINDOW.size
            if 1 <= limit <= MAX_ENTRIES and 0 < seconds <= 86400:
                learned.append(Window(seconds, limit))
        if count > MAX_ENTRIES or len(data) != at + 4 * count:
            return None
        offsets = array("I", data[at:])
        if sys.byteorder != "little":
            offsets.byteswap()
    except (struct.error, ValueError):
        return None
    if not (math.isfinite(base) and math.isfinite(blocked)):
        return None
    return _Record(sorted(base + o / 1000 for o in offsets), blocked, merge_windows(learned))


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
        self._memory = _Record([], 0.0, ())
        self._probe = 0.0  # the delay of the last probe after a header-less quota answer
        self._answers = 0  # quota answers since the last request answered
        self._last_quota_at = -math.inf  # wall time of the latest quota answer taken in
        self._quota_since: float | None = None  # a wait for the API's quota is going on
        self._pacing_noted = False
        # what a header-less quota teaches: answered requests since the last wait ended
        self._run_ok = 0
        self._run_floor: float | None = None  # the last refused probe before this run
        self._told = False  # a header explained the current wait
        self._guessed: tuple[Window, ...] = ()
        self._last_run: int | None = None  # answered requests of the run before
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
                    return now
            wait = ready - now
            if wait > max_wait - waited + 1e-9:
                left = format_seconds(max(0.0, max_wait - waited))
                raise QuotaWaitTooLong(
                    f"{why}: the next request could start in {format_seconds(wait)}, "
                    f"later than bulkctl may wait ({left} left)"
                )
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
            if windows:
                record.learned = merge_windows((*record.learned, *windows))
            if windows or retry_after is not None:
                self._told = True
            fresh = started > self._last_quota_at  # not one more answer to the same burst
            if retry_after is not None and (retry_after >= PROBE_FIRST or self._answers == 0):
                until = now + max(0.0, retry_after)
            else:
                # no header, or "try now" said again: probe with growing delays, never a loop
                if fresh or self._probe == 0:
                    self._probe = min(PROBE_CAP, self._probe * 2 or PROBE_FIRST)
                until = now + self._probe
            if fresh:
                self._answers += 1
            record.blocked_until = max(record.blocked_until, until)
            self._last_quota_at = now

    def success(self, started: float) -> None:
        """A request started at ``started`` was answered: probes start short again (answers to
        requests sent before the last quota answer tell nothing)."""
        learned: Window | None = None
        with self._lock:
            if started <= self._last_quota_at:
                return
            self._probe = 0.0
            self._answers = 0
            since, self._quota_since = self._quota_since, None
            now = self.clock.now()
            if since is None:
                self._run_ok += 1
            else:
                learned = self._learn(now)
        if learned is not None:  # a guess: kept for this command only, never in the file
            with self._lock:
                self._guessed = merge_windows((*self._guessed, learned))
        if since is not None and self.note is not None:
            waited = format_seconds(now - since)
            self.note(f"the API's quota allows requests again (waited {waited}); going on")

    def _learn(self, now: float) -> Window | None:
        """At the end of a wait that no header explained: the window the last run implies.

        A run of ``ok`` answered requests lay between two waits. The API's window reset at
        most ``now - floor`` after the one before, ``floor`` being the last refused probe of
        the wait before the run: pacing ``ok`` per that span can never overrun it."""
        floor, ok, told, before = self._run_floor, self._run_ok, self._told, self._last_run
        self._run_floor, self._run_ok, self._told = self._last_quota_at, 1, False
        if floor is None or told:
            return None  # the first run may have begun mid-window; a header said the truth
        self._last_run = ok
        # windows repeat themselves: two runs of alike length (random refusals give short,
        # uneven runs, which must not slow the command down)
        if before is None or min(ok, before) < GUESS_MIN_RUN or abs(ok - before) > ok // 5:
            return None
        return Window(float(math.ceil(now - floor)), min(ok, before))

    def usage(self, seconds: float = 60.0) -> PaceUsage:
        """How many requests started within the last ``seconds``, and the limit for it."""
        with self._state(write=False) as record:
            now = self.clock.now()
            started = sum(1 for t in record.starts if t > now - seconds)
            limits = [w.limit for w in self._windows(record) if w.seconds == seconds]
        return PaceUsage(started, min(limits) if limits else None, seconds)

    # -- inside ---------------------------------------------------------------------------

    def _windows(self, record: _Record) -> tuple[Window, ...]:
        return merge_windows((*self.windows, *record.learned, *self._guessed))

    def _ready_at(self, record: _Record, now: float) -> tuple[float, str, bool]:
        """When the next start may be, why, and whether the API itself said so."""
        ready, why, blocked = now, "", False
        if record.blocked_until > now:
            ready, why, blocked = (
                record.blocked_until,
                "the API answered that its request quota is used up",
                True,
            )
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
            except OSError:
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
        if record.blocked_until > now + 86400:
            record.blocked_until = now

    def _read(self, shared: _SharedFile) -> _Record:
        try:
            data = shared.read(MAX_STATE_BYTES + 1)
        except OSError:
            data = b""
        record = decode(data) if len(data) <= MAX_STATE_BYTES else None
        if record is None:  # new, corrupt or foreign: start afresh from what this process saw
            memory = self._memory
            return _Record(list(memory.starts), memory.blocked_until, memory.learned)
        return record


class _SharedFile:
    """The record file, opened once and locked around each read-and-write.

    On POSIX a plain ``flock`` on the file itself (microseconds, and no import at start-up);
    elsewhere the ``filelock`` package with a lock file beside it."""

    LOCK_TIMEOUT = 10.0

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
        self.fd = os.open(path, flags, 0o600)
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


def pacer_windows(setting: str | None) -> tuple[Window, ...]:
    return parse_rate_limit(setting if setting is not None else DEFAULT_RATE_LIMIT)
