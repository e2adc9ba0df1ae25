"""The in-process emulator behind ``--profile demo``, remembered between commands.

Each command is a new process, so the demo keeps a small journal of the actions taken
(execute, pause, resume, cancel) in the user state directory and replays it onto the
seeded data. An hour after the demo began it starts afresh, so seeded RUNNING bulks
are always there to look at. The journal and its folder must be the user's own, as the
config file must (``bulkctl.safefile``); a journal that cannot be saved is an error.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bulkctl.emulator.app import Emulator
from bulkctl.emulator.state import EmulatorState, InvalidState
from bulkctl.safefile import atomic_write, check_private_dir, make_private_dir, read_private

DEMO_FILE = "demo.json"
DEMO_LIFETIME = 3600.0


def load_demo(
    state_dir: Path, clock: Callable[[], float], note: Callable[[str], None] | None = None
) -> Emulator:
    """The demo emulator with the journal in ``state_dir`` replayed; ``note`` gets notes.

    Raises UnsafePath (another user's folder or journal, a symlink) and StorageError
    (the journal cannot be read, or an action cannot be saved).
    """
    path = state_dir / DEMO_FILE
    now = clock()
    journal: dict[str, Any] = {"epoch": now, "actions": []}
    check_private_dir(state_dir, "state folder")
    raw = read_private(path, "demo journal", note or (lambda _: None))
    try:
        loaded = json.loads(raw) if raw is not None else None
        if (
            isinstance(loaded, dict)
            and isinstance(loaded.get("epoch"), int | float)
            and isinstance(loaded.get("actions"), list)
            and 0 <= now - loaded["epoch"] < DEMO_LIFETIME
        ):
            journal = loaded
    except (ValueError, RecursionError):
        pass  # a garbled journal: the demo starts afresh
    state = EmulatorState(now=float(journal["epoch"]))
    for action in journal["actions"]:
        try:
            state.act(
                str(action["bulkId"]),
                str(action["action"]),
                float(action["at"]),
                action.get("mode"),
            )
        except (KeyError, TypeError, ValueError, InvalidState):
            continue

    def remember(entry: dict[str, Any]) -> None:
        journal["actions"].append(entry)
        what = f"the demo's {entry.get('action')} of bulk {entry.get('bulkId')}"
        make_private_dir(state_dir, "state folder", what)
        atomic_write(path, json.dumps(journal).encode(), what)

    return Emulator(state, clock=clock, journal=remember)
