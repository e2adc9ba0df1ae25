"""The config file: TOML, one table per profile (``[profiles.NAME]``), mode 0600 in a 0700
folder, written atomically under a lock, and never overwritten when it cannot be read."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bulkctl.errors import ConfigError, StorageError
from bulkctl.safefile import (
    atomic_write,
    check_private_dir,
    make_private_dir,
    read_private,
    refuse_symlink,
)

CONFIG_FILE = "config.toml"


@dataclass
class ConfigStore:
    """The config file: read, and update under a lock with an atomic replace.

    Folder, file and lock must be the user's own (UnsafePath, exit 2, otherwise); a file
    that cannot be read or saved is a StorageError (exit 1) and is left as it was.
    """

    directory: Path
    notes: list[str] = field(default_factory=list)
    note: Callable[[str], None] | None = None  # notes go here at once when set, else to notes
    # the profiles of a fleet load the file in threads of their own: each note is said once
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _said: set[str] = field(default_factory=set, repr=False)

    def _note(self, message: str) -> None:
        with self._lock:
            if message in self._said:
                return
            self._said.add(message)
            if self.note is None:
                self.notes.append(message)
                return
        self.note(message)

    def take_notes(self) -> list[str]:
        """The notes kept so far, each handed to one caller only (threads may ask at once)."""
        with self._lock:
            taken, self.notes = self.notes, []
        return taken

    @property
    def path(self) -> Path:
        return self.directory / CONFIG_FILE

    @property
    def lock_path(self) -> Path:
        return self.directory / (CONFIG_FILE + ".lock")

    def load(self) -> dict[str, Any]:
        path = self.path
        check_private_dir(self.directory, "config folder")
        raw = read_private(path, "config file", self._note)
        if raw is None:
            return {}
        import tomllib  # only when there is a file: a run without one never pays for it

        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(
                f"cannot parse config file {path}: {exc}",
                hint="fix or move the file; bulkctl will not overwrite it",
            ) from exc
        profiles = data.get("profiles", {})
        if not isinstance(profiles, dict) or not all(
            isinstance(p, dict) for p in profiles.values()
        ):
            raise ConfigError(
                f"config file {path}: 'profiles' must hold one table per profile",
                hint="fix or move the file; bulkctl will not overwrite it",
            )
        return data

    def profile(self, name: str) -> dict[str, Any]:
        profile = self.load().get("profiles", {}).get(name, {})
        return dict(profile) if isinstance(profile, dict) else {}

    def default_profile(self) -> str | None:
        """The profile ``bulkctl config use`` chose (``default_profile``), if any."""
        chosen = self.load().get("default_profile")
        return chosen.strip() if isinstance(chosen, str) and chosen.strip() else None

    def use_profile(self, name: str | None) -> None:
        """Make ``name`` the profile used when none is named (None: the built-in default)."""

        def mutate(data: dict[str, Any]) -> None:
            if name is None:
                data.pop("default_profile", None)
            else:
                data["default_profile"] = name

        self.update(mutate, "default_profile")

    def profile_names(self) -> list[str]:
        return sorted(self.load().get("profiles", {}))

    def update(self, mutate: Callable[[dict[str, Any]], None], not_saved: str = "settings") -> None:
        """Read, change and write the file while holding its lock, so no update is lost.

        ``not_saved`` says what is lost when the file cannot be written (in the error).
        """
        import tomli_w
        from filelock import FileLock, Timeout

        make_private_dir(self.directory, "config folder", not_saved)
        lock = self.lock_path
        refuse_symlink(lock, "lock file")
        try:
            with FileLock(str(lock), timeout=30, mode=0o600):
                data = self.load()
                mutate(data)
                atomic_write(self.path, tomli_w.dumps(data).encode("utf-8"), not_saved)
        except Timeout as exc:
            cause = f"another bulkctl held {lock} for 30 seconds"
            raise StorageError(f"{not_saved} not saved: {cause}", cause=cause) from exc
        except OSError as exc:  # the lock itself: a read-only folder, permissions
            cause = f"cannot lock {lock}: {exc.strerror or type(exc).__name__}"
            raise StorageError(
                f"{not_saved} not saved: {cause} (the file is unchanged)", cause=cause
            ) from exc

    def set_values(self, profile: str, values: Mapping[str, str | None]) -> None:
        """Set (or, for None, remove) settings of one profile."""

        def mutate(data: dict[str, Any]) -> None:
            table = data.setdefault("profiles", {}).setdefault(profile, {})
            for key, value in values.items():
                if value is None:
                    table.pop(key, None)
                else:
                    table[key] = value

        self.update(mutate, f"{', '.join(values)} of profile {profile}")
