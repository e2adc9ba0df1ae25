"""The shared store: the pacer's record (recent request starts, a wait the server named,
windows learned from answers) in a small binary file of the state folder, one per API host
and key, read and written under a file lock by every bulkctl process of the user."""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import stat
import struct
import sys
import time
from array import array
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import msgspec

from bulkctl.errors import UnsafePath
from bulkctl.pacing.rates import MAX_ENTRIES, Window
from bulkctl.safefile import check_private_dir, refuse_symlink

if TYPE_CHECKING:
    from filelock import BaseFileLock

try:
    import fcntl
except ImportError:  # not POSIX: the filelock package locks instead
    fcntl = None  # type: ignore[assignment]

SHARED_MAX = 86400.0  # seconds: the longest a server-named wait or a learned window is shared
SUSPECT_LIMIT = 5  # a learned window allowing fewer requests is kept for one command only
MAGIC = b"bulkctl-pacer\x02"
HEADER = struct.Struct("<dd I H")  # base time, blocked until, entries, learned windows
WINDOW = struct.Struct("<I d d")  # limit, seconds, expires (wall time)
MAX_STATE_BYTES = 1 << 20  # a larger file is not ours: start afresh


class _Record(msgspec.Struct):
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


class Store(Protocol):
    """Where the pacer's record is shared by the user's processes: a get-and-update of one
    record, atomic across processes. ``FileStore`` is the one today; another store (a
    Redis key, say) needs only these two methods."""

    def update(
        self, memory: _Record, *, write: bool = True
    ) -> AbstractContextManager[_Record | None]:
        """The shared record, held for the block and then written back (when ``write``);
        ``memory`` (what this process saw) when the stored one is missing or unreadable.
        Yields None when the store cannot be used now: the caller paces on its own."""
        ...

    def start(self, record: _Record, at: float) -> bool:
        """Record a request start at ``at`` in ``record`` (held by ``update``), atomically
        with the check the caller made on it: False when the store saw another change since
        the record was read, and nothing was recorded (the caller looks again)."""
        ...

    def close(self) -> None: ...


class FileStore:
    """The record in a private file of the state folder (``state_file``), under a file lock."""

    def __init__(self, path: Path) -> None:
        """Open (or create) the file: OSError or StorageError (UnsafePath) when unusable."""
        self.path = path
        self._file = _SharedFile(path)

    @contextlib.contextmanager
    def update(self, memory: _Record, *, write: bool = True) -> Iterator[_Record | None]:
        try:
            self._file.lock()
        except OSError:
            yield None
            return
        try:
            record = self._read(memory)
            yield record
            if write:
                # on failure the next reader finds what it can; pacing goes on in memory
                with contextlib.suppress(OSError):
                    self._file.write(encode(record))
        finally:
            self._file.unlock()

    def start(self, record: _Record, at: float) -> bool:
        record.starts.append(at)  # the file's lock is held: no other process can come between
        return True

    def close(self) -> None:
        self._file.close()

    def _read(self, memory: _Record) -> _Record:
        try:
            data = self._file.read(MAX_STATE_BYTES + 1)
        except OSError:
            data = b""
        record = decode(data) if len(data) <= MAX_STATE_BYTES else None
        if record is None:  # new, corrupt or foreign: start afresh from what this process saw
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
