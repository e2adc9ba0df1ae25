"""Private files bulkctl can trust: the config file and the demo's journal.

A folder or file is trusted only when the user running bulkctl owns it and no one else can
write to the folder (as ssh's StrictModes). Files are opened without following symbolic
links, tightened to 0600 through the open descriptor, and replaced atomically, so a failed
write leaves the old file as it was. Imports nothing but ``bulkctl.errors``, so the emulator
can use it too.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Callable
from pathlib import Path

from bulkctl.errors import StorageError, UnsafePath

PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700
MAX_PRIVATE_FILE = 1 << 20  # a config file or journal larger than this is not ours


class TooLarge(UnsafePath):
    """A private file over MAX_PRIVATE_FILE: not ours, or left by an older bulkctl."""


def _user(uid: int) -> str:
    """'uid 1000 (ana)', or 'uid 1000' when the name is unknown."""
    try:
        import pwd

        return f"uid {uid} ({pwd.getpwuid(uid).pw_name})"
    except (ImportError, KeyError):
        return f"uid {uid}"


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


def _check_owner(path: Path, what: str, st: os.stat_result) -> None:
    me = os.geteuid()
    if st.st_uid != me:
        raise UnsafePath(
            f"{what} {path} belongs to {_user(st.st_uid)}, not to you (uid {me}); "
            "bulkctl does not trust it",
            hint=f"if it is yours: chown {me} {path}; if not, move it away",
        )


def check_private_dir(directory: Path, what: str) -> None:
    """Refuse a folder that another user owns or that others may write to; absent is fine."""
    try:
        st = directory.stat()
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StorageError(f"cannot read {what} {directory}: {_reason(exc)}") from exc
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafePath(f"{what} {directory} is not a folder", hint="move it away")
    _check_owner(directory, what, st)
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o022:
        raise UnsafePath(
            f"{what} {directory} is writable by other users (mode {mode:o}), "
            "so they could replace its files; bulkctl does not trust it",
            hint=f"run: chmod go-w {directory}",
        )


def make_private_dir(directory: Path, what: str, not_saved: str) -> None:
    """Create ``directory`` (0700) when missing, then check it as ``check_private_dir`` does."""
    try:
        directory.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    except OSError as exc:
        cause = f"cannot create {what} {directory}: {_reason(exc)}"
        raise StorageError(f"{not_saved} not saved: {cause}", cause=cause) from exc
    check_private_dir(directory, what)


def refuse_symlink(path: Path, what: str) -> None:
    """Refuse ``path`` when it is a symbolic link or another user's; absent is fine."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StorageError(f"cannot read {what} {path}: {_reason(exc)}") from exc
    if stat.S_ISLNK(st.st_mode):
        raise _symlink(path, what)
    _check_owner(path, what, st)


def _symlink(path: Path, what: str) -> UnsafePath:
    return UnsafePath(
        f"{what} {path} is a symbolic link; bulkctl does not follow links for its own files",
        hint=f"replace the link with a plain file, or remove it: rm {path}",
    )


def read_private(path: Path, what: str, note: Callable[[str], None]) -> bytes | None:
    """The bytes of a private file, None when it does not exist.

    Refuses (UnsafePath) a symbolic link, anything but a regular file, and a file another
    user owns. A file of ours readable by others is tightened to 0600 with a note, through
    the open descriptor, so no link is ever followed.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP or path.is_symlink():
            raise _symlink(path, what) from exc
        raise StorageError(f"cannot read {what} {path}: {_reason(exc)}") from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnsafePath(f"{what} {path} is not a regular file", hint="move it away")
        _check_owner(path, what, st)
        mode = stat.S_IMODE(st.st_mode)
        if mode & 0o077:
            try:
                os.fchmod(fd, PRIVATE_FILE_MODE)
                note(f"note: {path} was open to other users (mode {mode:o}); now 0600")
            except OSError as exc:
                note(f"note: {path} is open to other users (mode {mode:o}): {_reason(exc)}")
        chunks: list[bytes] = []
        size = 0
        while chunk := os.read(fd, 65536):
            size += len(chunk)
            if size > MAX_PRIVATE_FILE:
                raise TooLarge(f"{what} {path} is larger than 1 MiB", hint="move it away")
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise StorageError(f"cannot read {what} {path}: {_reason(exc)}") from exc
    finally:
        os.close(fd)


def atomic_write(path: Path, payload: bytes, not_saved: str) -> None:
    """Write ``payload`` to ``path`` (0600): a failure leaves the old file, or none, intact.

    Raises StorageError naming the path and ``not_saved`` (what was lost), for a full disk,
    a read-only folder or missing permissions. A symbolic link at ``path`` is refused.
    """
    import tempfile

    refuse_symlink(path, "file")
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise _not_saved(path, not_saved, exc) from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), PRIVATE_FILE_MODE)
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise _not_saved(path, not_saved, exc) from exc
        raise
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass  # the data is written and renamed; only the rename's durability is in doubt
    finally:
        os.close(dir_fd)


def _not_saved(path: Path, not_saved: str, exc: OSError) -> StorageError:
    cause = f"cannot write {path}: {_reason(exc)}"
    return StorageError(f"{not_saved} not saved: {cause} (the file is unchanged)", cause=cause)
