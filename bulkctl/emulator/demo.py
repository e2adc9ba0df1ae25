"""The in-process emulator behind ``--profile demo``, remembered between commands.

Each command is a new process, so the demo keeps a small journal of the actions taken
(execute, pause, resume, cancel) in the user state directory and replays it onto the
seeded data. An hour after the demo began it starts afresh, so seeded RUNNING bulks
are always there to look at.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bulkctl.emulator.app import Emulator
from bulkctl.emulator.state import EmulatorState, InvalidState

DEMO_FILE = "demo.json"
DEMO_LIFETIME = 3600.0


def load_demo(
    state_dir: Path, clock: Callable[[], float], save: Callable[[Path, bytes], None]
) -> Emulator:
    """The demo emulator with the journal in ``state_dir`` replayed; ``save`` writes it back."""
    path = state_dir / DEMO_FILE
    now = clock()
    journal: dict[str, Any] = {"epoch": now, "actions": []}
    try:
        loaded = json.loads(path.read_text("utf-8"))
        if (
            isinstance(loaded, dict)
            and isinstance(loaded.get("epoch"), int | float)
            and isinstance(loaded.get("actions"), list)
            and 0 <= now - loaded["epoch"] < DEMO_LIFETIME
        ):
            journal = loaded
    except (OSError, ValueError):
        pass
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
        try:
            state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            save(path, json.dumps(journal).encode())
        except OSError:
            pass  # the demo still works; it just forgets

    return Emulator(state, clock=clock, journal=remember)
