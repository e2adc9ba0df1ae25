"""Private files bulkctl can trust: the config file, the journals and the pacer's state.

A folder or file is trusted only when the user running bulkctl owns it, no one else can
write to it or to any folder above it, and no link on the way is another user's (as ssh's
StrictModes). Files are opened without following symbolic
links, tightened to 0600 through the open descriptor, and replaced atomically, so a failed
write leaves the old file as it was. Imports nothing but ``bulkctl.errors``.
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


MAX_LINKS = 40  # symbolic links followed while resolving one path, as Linux's ELOOP


def check_private_dir(directory: Path, what: str) -> None:
    """Refuse a folder another user could redirect or fill; absent is fine.

    As ssh's StrictModes: every symbolic link met on the way must be the user's or root's
    (a dotfiles setup is followed), the folder must be the user's own and writable by no
    one else, and each folder above it, up to the home folder (up to the root outside the
    home), must be the user's or root's and writable by no one else, unless it is a
    root-owned sticky folder such as /tmp. UnsafePath (exit 2) names the folder and the fix.
    This is the check for any private file's folder, such as the pacer's state file.
    """
    resolved, missing, holders = _resolve_checked(directory, what)
    if not missing:
        try:
            st = os.stat(resolved)
        except OSError as exc:
            raise StorageError(f"cannot read {what} {directory}: {_reason(exc)}") from exc
        if not stat.S_ISDIR(st.st_mode):  # a storage problem, not one of trust (exit 1)
            raise StorageError(f"{what} {directory} is not a folder", hint="move it away")
        _check_owner(directory, what, st)
        mode = stat.S_IMODE(st.st_mode)
        if mode & 0o022:
            raise UnsafePath(
                f"{what} {directory} is writable by other users (mode {mode:o}), "
                "so they could replace its files; bulkctl does not trust it",
                hint=f"run: chmod go-w {directory}",
            )
    _check_ancestors(resolved if missing else resolved.parent, directory, what)
    for holder in holders:  # whoever can write the folder holding a link can swap the link
        _check_ancestors(holder, directory, what)


def _resolve_checked(path: Path, what: str) -> tuple[Path, bool, list[Path]]:
    """``path`` with its links resolved, refusing a link owned by anyone but the user or root,
    and False; or, when some part of it is missing, the last folder that exists, and True.
    Last, the real folders that hold the links met on the way, to be checked as well."""
    holders: list[Path] = []
    me = os.geteuid()
    pending = list(reversed(Path(os.path.abspath(path)).parts))
    current = Path(pending.pop())  # the root
    links = 0
    while pending:
        part = pending.pop()
        if part in ("", "."):
            continue
        if part == "..":
            current = current.parent
            continue
        candidate = current / part
        try:
            st = os.lstat(candidate)
        except FileNotFoundError:
            return current, True, holders
        except OSError as exc:
            raise StorageError(f"cannot read {what} {path}: {_reason(exc)}") from exc
        if not stat.S_ISLNK(st.st_mode):
            current = candidate
            continue
        if st.st_uid not in (me, 0):
            raise UnsafePath(
                f"{what} {path}: {candidate} is a symbolic link of {_user(st.st_uid)}, who "
                "could point it anywhere; bulkctl does not follow it",
                hint=f"if the link is yours: chown -h {me} {candidate}; if not, remove it",
            )
        holders.append(current)
        links += 1
        if links > MAX_LINKS:
            raise UnsafePath(f"{what} {path}: too many symbolic links", hint="remove the loop")
        target = Path(os.readlink(candidate))
        if target.is_absolute():
            current = Path(target.anchor)
        pending.extend(reversed([p for p in target.parts if p != target.anchor]))
    return current, False, holders


def _check_ancestors(start: Path, directory: Path, what: str) -> None:
    """Each real folder from ``start`` up to the home folder (or the root): the user's or
    root's, and writable by no one else unless root's and sticky (/tmp)."""
    me = os.geteuid()
    try:
        home: Path | None = Path.home().resolve()
    except (OSError, RuntimeError):
        home = None
    if home is not None and home != start and home not in start.parents:
        home = None  # outside the home: up to the root
    folder = start
    while True:
        try:
            st = os.stat(folder)
        except OSError as exc:
            raise StorageError(
                f"cannot read {folder}, above {what} {directory}: {_reason(exc)}"
            ) from exc
        mode = stat.S_IMODE(st.st_mode)
        if st.st_uid not in (me, 0):
            raise UnsafePath(
                f"{what} {directory}: the folder {folder} above it belongs to "
                f"{_user(st.st_uid)}, who could replace it; bulkctl does not trust it",
                hint=f"if it is yours: chown {me} {folder}; if not, point XDG_CONFIG_HOME "
                "or XDG_STATE_HOME at a folder of your own",
            )
        sticky_root = st.st_uid == 0 and bool(st.st_mode & stat.S_ISVTX)
        if mode & 0o022 and not sticky_root:
            raise UnsafePath(
                f"{what} {directory}: the folder {folder} above it is writable by other "
                f"users (mode {mode:o}), so they could replace it; bulkctl does not trust it",
                hint=f"run: chmod go-w {folder}",
            )
        if folder == home or folder.parent == folder:
            return
        folder = folder.parent


def make_private_dir(directory: Path, what: str, not_saved: str) -> None:
    """Create ``directory`` and its missing parents, each 0700 whatever the umask, after
    checking what exists as ``check_private_dir`` does; then check the whole."""
    check_private_dir(directory, what)
    missing: list[Path] = []
    folder = Path(os.path.abspath(directory))
    while not os.path.lexists(folder) and folder.parent != folder:
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, PRIVATE_DIR_MODE)
            # the umask may have taken bits; under checked parents no one can swap the folder
            os.chmod(folder, PRIVATE_DIR_MODE)
        except FileExistsError:
            pass  # another bulkctl made it meanwhile; checked below
        except OSError as exc:
            cause = f"cannot create {what} {folder}: {_reason(exc)}"
            raise StorageError(f"{not_saved} not saved: {cause}", cause=cause) from exc
    check_private_dir(directory, what)


def open_private(path: Path, what: str, not_saved: str) -> int:
    """A descriptor (read and write) of the private file ``path``, created 0600 when absent,
    in a folder made and checked by ``make_private_dir``: no link followed, refused when
    another user owns it or it is no regular file, tightened to 0600 when others may read
    it. For a state file kept open, such as the pacer's; the caller closes it."""
    make_private_dir(path.parent, "state folder", not_saved)
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags | os.O_NONBLOCK, PRIVATE_FILE_MODE)
    except OSError as exc:
        if exc.errno == errno.ELOOP or path.is_symlink():
            raise _symlink(path, what) from exc
        raise StorageError(f"cannot open {what} {path}: {_reason(exc)}") from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnsafePath(f"{what} {path} is not a regular file", hint="move it away")
        _check_owner(path, what, st)
        if stat.S_IMODE(st.st_mode) & 0o077:
            os.fchmod(fd, PRIVATE_FILE_MODE)
    except BaseException as exc:
        os.close(fd)
        if isinstance(exc, OSError):
            raise StorageError(f"cannot open {what} {path}: {_reason(exc)}") from exc
        raise
    return fd


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
